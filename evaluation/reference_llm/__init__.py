"""Reference agents: calibration agents with known dispositions, served over the OpenAI chat protocol.

They are not a mock of any LLM. They let the whole pipeline (client, retries, conversation, extraction, scoring,
statistics) run end to end against ground truth: every decision response carries the agent's true choice in
the ``x-reference-option`` header (canonical option 1..9) and ``x-reference-label`` (the label as displayed).

``agents.py`` holds the dispositions (pure), ``phrasing.py`` how they word their replies, ``server.py`` the
asyncio HTTP server (``python manage.py serve_reference_llm``).
"""
