"""Operations: Grafana dashboards as code."""
