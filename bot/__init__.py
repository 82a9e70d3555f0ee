"""Front ends: the `qa` command line (cli.py) and the Slack app (slack/). They render and transport only;
the answers come from retrieval.Engine."""
