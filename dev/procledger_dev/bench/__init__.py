"""End-to-end benchmark of the ledger pipeline against the machine's own limits (`make bench`).

`python -m procledger_dev.bench` publishes synthetic events to fresh topics, measures the raw
limits of the same data (bare kafka-python consumer, kcat, PostgreSQL COPY, fastavro decode),
then the product itself (publish, consume with one and two processes, latency at a steady
rate, peak RSS, rebuild), and writes the figures as JSON and a markdown table.
"""
