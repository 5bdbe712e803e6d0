"""The Alembic migrations create exactly the schema of the models, on SQLite and PostgreSQL."""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, func, inspect, select

from kefu.store import Repository, Store, StoreError
from kefu.store.db import alembic_config
from kefu.store.models import Base

TABLES = {"users", "conversations", "turns", "handoff_tickets", "reviews", "feedback"}


def test_migrate_on_empty_database(db_url):
    store = Store(db_url)
    assert store.current_revision() is None
    store.migrate()
    assert store.current_revision() == store.head_revision() == "0004"
    assert TABLES <= set(inspect(store.engine).get_table_names())
    store.migrate()  # already at head: nothing to do, no error
    store.dispose()


def test_migration_matches_models(store):
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_constraints_alembic_does_not_compare_also_match(store):
    # compare_metadata ignores CHECK constraints and ON DELETE rules; both matter here (vocabularies and
    # cascading deletes), so compare them from the reflected schema.
    inspector = inspect(store.engine)
    for table in Base.metadata.sorted_tables:
        expected_checks = {c.name for c in table.constraints if c.__class__.__name__ == "CheckConstraint"}
        assert {c["name"] for c in inspector.get_check_constraints(table.name)} == expected_checks, table.name
        expected_fks = {(fk.parent.name, (fk.ondelete or "").upper()) for fk in table.foreign_keys}
        reflected = {
            (fk["constrained_columns"][0], (fk.get("options", {}).get("ondelete") or "").upper())
            for fk in inspector.get_foreign_keys(table.name)
        }
        assert reflected == expected_fks, table.name


def downgrade(store: Store, revision: str) -> None:
    config = alembic_config()
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def test_downgrade_to_base_removes_everything(db_url):
    store = Store(db_url)
    store.migrate()
    downgrade(store, "base")
    assert not TABLES & set(inspect(store.engine).get_table_names())
    store.migrate()
    assert TABLES <= set(inspect(store.engine).get_table_names())
    store.dispose()


def test_workers_migrating_at_once_do_not_collide(db_url):
    stores = [Store(db_url) for _ in range(3)]
    with ThreadPoolExecutor(max_workers=len(stores)) as pool:
        for job in [pool.submit(store.migrate) for store in stores]:
            job.result()  # re-raises a worker's error here
    assert stores[0].current_revision() == "0004"
    for store in stores:
        store.dispose()


def test_unknown_revision_is_a_store_error(store):
    with pytest.raises(StoreError, match="cannot migrate"):
        store.migrate("nonexistent")


def _fill_at_0001(store: Store) -> None:
    """One row in every table, written through the tables as revision 0001 made them."""
    tables = MetaData()
    tables.reflect(store.engine)
    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    rows = [
        ("users", {"id": 1, "username": "alice", "password_hash": "x", "role": "agent", "created_at": now}),
        ("conversations", {"id": 1, "session_id": "s1", "channel": "web", "language": "zh", "status": "human",
                           "assigned_agent_id": 1, "state": {"slots": {"order_id": "A12345"}},
                           "created_at": now, "updated_at": now}),
        ("turns", {"id": 1, "conversation_id": 1, "seq": 0, "role": "customer", "text": "订单A12345到哪了",
                   "entities": [{"type": "order_id", "value": "A12345"}], "created_at": now}),
        ("handoff_tickets", {"id": 1, "conversation_id": 1, "reason": "requested", "status": "claimed",
                             "agent_id": 1, "created_at": now}),
        ("reviews", {"id": 1, "turn_id": 1, "reason": "fallback", "status": "pending", "created_at": now}),
        ("feedback", {"id": 1, "turn_id": 1, "rating": -1, "comment": "slow", "created_at": now}),
    ]
    with store.engine.begin() as connection:
        for name, values in rows:
            connection.execute(tables.tables[name].insert().values(**values))


def _row_counts(store: Store) -> dict[str, int]:
    tables = MetaData()
    tables.reflect(store.engine, only=sorted(TABLES))
    with store.engine.connect() as connection:
        return {
            name: connection.scalar(select(func.count()).select_from(tables.tables[name])) for name in TABLES
        }


def test_0002_adds_the_customer_id_and_both_directions_keep_every_row(db_url):
    store = Store(db_url)
    store.migrate("0001")
    _fill_at_0001(store)
    everything = dict.fromkeys(TABLES, 1)
    assert _row_counts(store) == everything

    store.migrate("0002")
    assert store.current_revision() == "0002" and _row_counts(store) == everything
    conversations = {column["name"] for column in inspect(store.engine).get_columns("conversations")}
    assert "customer_id" in conversations

    # a downgrade that recreated the table would cascade-delete every turn on SQLite: none may go
    downgrade(store, "0001")
    assert store.current_revision() == "0001" and _row_counts(store) == everything
    conversations = {column["name"] for column in inspect(store.engine).get_columns("conversations")}
    assert "customer_id" not in conversations
    assert "ix_conversations_customer_id" not in {
        index["name"] for index in inspect(store.engine).get_indexes("conversations")
    }
    store.migrate()
    repo = Repository(store)
    assert repo.get_conversation("s1").customer_id is None and _row_counts(store) == everything
    assert repo.history("s1")[0].text == "订单A12345到哪了"
    assert repo.get_or_create_conversation("s1", customer_id="u-1").session_id == "s1"
    store.dispose()


def test_0003_adds_token_versions_access_keys_and_message_ids_and_keeps_every_row(db_url):
    store = Store(db_url)
    store.migrate("0002")
    _fill_at_0001(store)
    everything = dict.fromkeys(TABLES, 1)

    store.migrate("0003")
    assert store.current_revision() == "0003" and _row_counts(store) == everything
    columns = {table: {c["name"] for c in inspect(store.engine).get_columns(table)} for table in TABLES}
    assert "token_version" in columns["users"]
    assert "access_key_hash" in columns["conversations"]
    assert "client_message_id" in columns["turns"]
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT token_version FROM users").scalar() == 0

    downgrade(store, "0002")
    assert store.current_revision() == "0002" and _row_counts(store) == everything
    assert "client_message_id" not in {c["name"] for c in inspect(store.engine).get_columns("turns")}
    store.migrate()
    assert _row_counts(store) == everything
    store.dispose()


def test_0004_adds_the_ticket_close_reason_and_keeps_every_row(db_url):
    store = Store(db_url)
    store.migrate("0003")
    _fill_at_0001(store)
    store.migrate()
    assert store.current_revision() == "0004" and _row_counts(store) == dict.fromkeys(TABLES, 1)
    assert "close_reason" in {c["name"] for c in inspect(store.engine).get_columns("handoff_tickets")}
    store.dispose()
