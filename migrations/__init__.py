"""Alembic migrations. Write them by hand or review what `alembic revision --autogenerate` proposes;
`linli db check` (run by `make test`) fails when the models and the migrations disagree."""
