"""Where orders live: PostgreSQL's schema `sandbox`, its migrations, and the SQL on it.

- initdb/: the roles and the schema, made when the database is first created
  (the postgres images run it as the superuser);
- migrations/: Alembic's versions, applied by the one-shot `migrate` service
  (`python -m orders_db.migrate`, as sandbox_owner) before the api starts;
- pool.py: the api's async connection pool (psycopg 3), connecting as
  sandbox_api, which may read and write rows and nothing more;
- orders.py, keys.py: the statements on the orders, their outbox rows and
  the idempotency keys. Every value is a bound parameter, never SQL text.
"""
