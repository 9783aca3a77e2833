"""Watch the stream: Evidently windows, drift policy, dashboards."""
