"""The set-based rewrite of one-row statements (PostgreSQL executemany)."""

from __future__ import annotations

from tidings.store.pg_bulk import bulk_form


def test_update_reads_parameters_from_unnest() -> None:
    form = bulk_form("UPDATE t SET a = $2, b = COALESCE($3, b) WHERE id = $1")
    assert form is not None
    assert form.key == (1,)
    assert form.render(["text", "int4", "int8"]) == (
        "UPDATE t SET a = v.p2, b = COALESCE(v.p3, b)"
        " FROM unnest($1::text[], $2::int4[], $3::int8[]) AS v(p1, p2, p3) WHERE id = v.p1"
    )


def test_update_key_is_every_equality_parameter() -> None:
    form = bulk_form("UPDATE t SET s = 'x' WHERE a = $1 AND b = $2 AND s = 'pending'")
    assert form is not None and form.key == (1, 2)
    assert form.distinct([(1, "u"), (1, "w")])
    assert not form.distinct([(1, "u"), (1, "u")])


def test_shapes_that_could_match_a_row_twice_are_not_rewritten() -> None:
    assert bulk_form("UPDATE t SET a = $2 WHERE id = $1 OR ref = $1") is None
    assert bulk_form("UPDATE t SET a = 1 WHERE id > $1") is None
    assert bulk_form("UPDATE t SET a = $1 WHERE s = 'x'") is None  # no key at all
    assert bulk_form("SELECT $1") is None
    assert bulk_form("UPDATE t SET a = 1") is None


def test_delete_needs_no_key() -> None:
    form = bulk_form("DELETE FROM t WHERE ref = $1 AND kind IN ('a', 'b')")
    assert form is not None and form.key == ()
    assert form.render(["text"]) == (
        "DELETE FROM t USING unnest($1::text[]) AS v(p1) WHERE ref = v.p1 AND kind IN ('a', 'b')"
    )


def test_insert_keeps_constants_and_repeated_parameters() -> None:
    form = bulk_form("INSERT INTO t (a, b, c, d) VALUES ($1, 'k', $2, $2)")
    assert form is not None and form.key == ()
    assert form.render(["text", "int8"]) == (
        "INSERT INTO t (a, b, c, d) SELECT v.p1, 'k', v.p2, v.p2"
        " FROM unnest($1::text[], $2::int8[]) AS v(p1, p2)"
    )


def test_insert_on_conflict_is_keyed_by_its_conflict_target() -> None:
    form = bulk_form(
        "INSERT INTO t (id, n) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET n = t.n + 1"
    )
    assert form is not None and form.key == (1,)
    assert form.render(["text", "int4"]).endswith(
        "AS v(p1, p2) ON CONFLICT (id) DO UPDATE SET n = t.n + 1"
    )
    # A conflict column filled by an expression cannot be checked: not rewritten.
    assert (
        bulk_form("INSERT INTO t (id, n) VALUES (lower($1), $2) ON CONFLICT (id) DO NOTHING")
        is None
    )
