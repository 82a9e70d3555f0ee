"""What the tests and the benchmarks share: the fakes (Slack's Web API and Socket Mode, an
OpenAI-compatible model), real servers started on loopback (PostgreSQL, `qa serve`), hostile
inputs, index checks, and where the seed corpus and the evaluation data are."""
