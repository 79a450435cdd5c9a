-- Run by the postgres image once, when the postgres-data volume is empty (files in
-- /docker-entrypoint-initdb.d, as POSTGRES_USER): the MLflow and Prefect servers get their own
-- databases on the stack's one server, beside the control room's (POSTGRES_DB), and MLflow's
-- basic-auth app one for its users and permissions.
CREATE DATABASE mlflow;
CREATE DATABASE mlflow_auth;
CREATE DATABASE prefect;
