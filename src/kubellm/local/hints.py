"""What `kubellm up` tells the user once the stack answers: the endpoint, a curl line, an openai snippet."""

from __future__ import annotations

import json
import shlex


def curl_line(endpoint: str, model: str, api_key: str | None) -> str:
    """A copy-paste curl call of the chat endpoint."""
    body = json.dumps(
        {"model": model, "messages": [{"role": "user", "content": "Say hello"}], "max_tokens": 32}
    )
    auth = f" -H {shlex.quote('Authorization: Bearer ' + api_key)}" if api_key else ""
    return (
        f"curl {endpoint}/chat/completions -H 'Content-Type: application/json'{auth} -d {shlex.quote(body)}"
    )


def openai_snippet(endpoint: str, model: str, api_key: str | None) -> str:
    """Python that calls the stack with the `openai` SDK."""
    return "\n".join(
        [
            "from openai import OpenAI",
            f'client = OpenAI(base_url="{endpoint}", api_key="{api_key or "unused"}")',
            "reply = client.chat.completions.create(",
            f'    model="{model}", messages=[{{"role": "user", "content": "Say hello"}}], max_tokens=32',
            ")",
            "print(reply.choices[0].message.content)",
        ]
    )
