"""The Slack front end: renders answers as Block Kit and transports them. No retrieval here."""
