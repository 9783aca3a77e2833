-- Runs once, when the postgres container starts on an empty data volume
-- (mounted into /docker-entrypoint-initdb.d by docker-compose.yaml).
-- The project database itself comes from POSTGRES_DB; MLflow's backend store
-- gets its own database, owned by the same project user.
CREATE DATABASE mlflow OWNER tweetstream;
