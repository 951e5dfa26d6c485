"""One version number for everything a toy route looks up (tokens, toys, children, agents,
consent, households): every committed change to those tables bumps it, so each process's lookup cache
(devices/lookups.py) notices at its next request. Hand-written: the version lives in a
one-row table; deferred constraint triggers bump it at commit (a transaction takes the row
lock last, so two transactions that touch different rows cannot deadlock on it). Updates
that only stamp a toy's last_seen_at or a token's last_used_at change nothing looked up."""

from django.db import migrations

TABLES = {  # table: columns whose change alone is not a change of what is looked up
    "devices_devicetoken": ["last_used_at"],
    "devices_device": ["last_seen_at"],
    "devices_childprofile": [],
    "devices_agent": [],
    "devices_consent": [],
    "devices_household": [],  # a closed household's toys are served nothing
}

SETUP = """
CREATE TABLE devices_lookup_version (id smallint PRIMARY KEY CHECK (id = 1), value bigint NOT NULL);
INSERT INTO devices_lookup_version VALUES (1, 1);
CREATE FUNCTION devices_lookup_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE devices_lookup_version SET value = value + 1 WHERE id = 1;
    RETURN NULL;
END $$;
"""


def triggers(table: str, ignored: list[str]) -> str:
    changed = "OLD IS DISTINCT FROM NEW"
    if ignored:
        minus = " - ".join(f"'{c}'" for c in ignored)
        changed = f"(to_jsonb(OLD) - {minus}) IS DISTINCT FROM (to_jsonb(NEW) - {minus})"
    bump = "EXECUTE FUNCTION devices_lookup_version_bump()"
    return f"""
CREATE CONSTRAINT TRIGGER lookup_version_write AFTER INSERT OR DELETE ON {table}
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW {bump};
CREATE CONSTRAINT TRIGGER lookup_version_update AFTER UPDATE ON {table}
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN ({changed}) {bump};
CREATE TRIGGER lookup_version_truncate AFTER TRUNCATE ON {table} FOR EACH STATEMENT {bump};
"""


FORWARD = SETUP + "".join(triggers(t, ignored) for t, ignored in TABLES.items())
BACKWARD = "".join(
    f"DROP TRIGGER IF EXISTS lookup_version_write ON {t}; DROP TRIGGER IF EXISTS lookup_version_update ON {t}; "
    f"DROP TRIGGER IF EXISTS lookup_version_truncate ON {t};" for t in TABLES
) + "DROP FUNCTION IF EXISTS devices_lookup_version_bump(); DROP TABLE IF EXISTS devices_lookup_version;"


class Migration(migrations.Migration):
    dependencies = [("devices", "0006_pairingcode")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
