"""Infrastructure: the local stack (``infra/local``), Kafka jars (``infra/kafka``), deployment."""
