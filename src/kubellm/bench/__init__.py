"""The load generator behind `kubellm bench`: workloads, the streaming client, runs, knee, reports.

It imports only ``kubellm.spec`` (results contract and metric definitions) and ``kubellm.errors``;
it talks to servers over HTTP like any other client.
"""
