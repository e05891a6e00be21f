"""The roster: every problem reported at once, each naming the entry."""

import pytest

from event.names import ParticipantNames
from event.roster import RosterError, load_roster, parse_roster, slugify

EVENT = "aim368"


def problems_of(entries, event=EVENT, document=None):
    with pytest.raises(RosterError) as caught:
        parse_roster(document if document is not None else {"participants": entries}, event)
    return caught.value.problems


def test_ids_are_derived_from_names():
    assert slugify("Mike Calder") == "mike-calder"
    assert slugify("José Pérez-Núñez") == "jose-perez-nunez"
    assert slugify("Seán O'Brien") == "sean-obrien"
    assert slugify("Søren Kierkegaard") == "soren-kierkegaard"
    assert slugify("  Ada   LOVELACE ") == "ada-lovelace"
    assert slugify("Łukasz Straße") == "lukasz-strasse"


def test_tricky_but_valid_names_are_accepted():
    roster = parse_roster({"participants": [
        {"name": "Zoë Müller-Łukasiewicz"},
        {"name": "Seán O'Brien", "email": "sean@example.com"},
        {"name": "Madonna"},
        {"name": "李小龙"},
        {"name": "Ana de los Ángeles García-Fernández"},  # 35 characters, one under the limit
        {"name": "D'Angelo", "account": "012345678901"},
    ]}, EVENT)
    assert [p.id for p in roster] == [
        "zoe-muller-lukasiewicz", "sean-obrien", "madonna", "lixiaolong",
        "ana-de-los-angeles-garcia-fernandez", "dangelo"]
    assert roster[1].email == "sean@example.com"
    assert roster[5].account == "012345678901"
    assert roster[0].name == "Zoë Müller-Łukasiewicz"


def test_a_very_long_name_with_a_short_explicit_id_is_accepted():
    name = "Princess Adelheid Wilhelmina Charlotte Maximiliane von Hohenzollern-Sigmaringen"
    [participant] = parse_roster({"participants": [{"name": name, "id": "adelheid"}]}, EVENT)
    assert participant.id == "adelheid" and participant.name == name


def test_duplicate_ids_name_both_entries():
    problems = problems_of([{"name": "Ann Lee"}, {"name": "Bob"}, {"name": "Ann Lee"}])
    assert problems == ["entry 1 ('Ann Lee') and entry 3 ('Ann Lee') share the id 'ann-lee'; "
                        "give them distinct 'id's"]


def test_ids_that_collide_only_after_derivation_are_duplicates():
    problems = problems_of([{"name": "José Pérez"}, {"name": "Jose Perez"}])
    assert "entry 1 ('José Pérez') and entry 2 ('Jose Perez') share the id 'jose-perez'" in problems[0]


def test_an_explicit_id_colliding_with_a_derived_one_is_a_duplicate():
    problems = problems_of([{"name": "Kim", "id": "lee"}, {"name": "Lee"}])
    assert "entry 1 ('Kim') and entry 2 ('Lee') share the id 'lee'" in problems[0]


def test_a_name_without_a_usable_id_asks_for_an_explicit_one():
    problems = problems_of([{"name": "!!!"}])
    assert problems == ["entry 1 ('!!!'): name yields no usable id; give this entry an explicit 'id'"]


def test_an_id_too_long_for_the_bucket_name_says_how_long_it_may_be():
    long_id = "a" * 41
    problems = problems_of([{"name": "Long", "id": long_id}])
    limit = ParticipantNames(EVENT, long_id).max_participant_id_length()
    assert limit == 36  # aim368-<id>--xgb-YYYYMMDDHHMMSS, a training job, must fit 63
    assert any("entry 1 ('Long')" in p and "S3 bucket name" in p and "over AWS's 63" in p
               and f"at most {limit} characters" in p for p in problems)


def test_every_name_limit_is_checked():
    names = ParticipantNames("a-very-long-event-nm", "x" * 40)
    broken = {rule.what for rule, _, length in names.checked() if length > rule.limit}
    assert broken == {"S3 bucket name", "IAM role name", "Lambda function name",
                      "Firehose delivery stream name", "SageMaker notebook instance name",
                      "SageMaker endpoint name", "SageMaker lifecycle configuration name",
                      "SageMaker model, endpoint configuration or training job name"}
    assert len(names.problems()) == len([1 for rule, _, n in names.checked() if n > rule.limit])


def test_the_longest_allowed_id_fits_every_name():
    names = ParticipantNames(EVENT, "a" * 36)
    assert names.problems() == []
    assert ParticipantNames(EVENT, "a" * 37).problems() != []


def test_a_malformed_explicit_id_is_rejected():
    problems = problems_of([{"name": "Ann", "id": "Ann_Lee"}, {"name": "Bo", "id": "bo--x"}])
    assert len(problems) == 2
    assert problems[0].startswith("entry 1 ('Ann'): id 'Ann_Lee' must be lowercase")
    assert problems[1].startswith("entry 2 ('Bo'): id 'bo--x' must be lowercase")


@pytest.mark.parametrize("bad_id", ["ada--lovelace", "-ada", "ada-", "ada---x"])
def test_an_id_that_could_pass_for_the_owned_name_delimiter_is_rejected(bad_id):
    # `<event>-<id>--*` is a participant's own name space only while ids have no '--' and
    # no '-' at either end (event/names.py).
    [problem] = problems_of([{"name": "Ada", "id": bad_id}])
    assert problem.startswith(f"entry 1 ('Ada'): id '{bad_id}' must be lowercase letters and "
                              "digits joined by single '-'")


@pytest.mark.parametrize("clashing, shared", [
    ("fc", "aim368-fc-samples"), ("fc-edge", "aim368-fc-edge"), ("leaderboard", "aim368-leaderboard"),
    ("liveinference", "aim368-liveinference"), ("scores", "aim368-scores"),
    ("live", "aim368-live-inference"), ("aim368", "aim368 (the event itself)"),
])
def test_an_id_that_would_be_confused_with_a_shared_name_is_rejected(clashing, shared):
    problems = problems_of([{"name": "Ada", "id": clashing}, {"name": "Bo"}])
    assert problems == [(f"entry 1 ('Ada'): id '{clashing}' would be confused with the "
                         f"event's shared '{shared}'; give this entry another 'id'")]


def test_a_name_that_slugifies_to_a_shared_name_is_rejected_too():
    [problem] = problems_of([{"name": "Leader Board"}, {"name": "Leaderboard"}])
    assert problem == ("entry 2 ('Leaderboard'): id 'leaderboard' would be confused with the "
                       "event's shared 'aim368-leaderboard'; give this entry another 'id'")


def test_ids_that_extend_a_shared_name_or_another_id_are_fine():
    roster = parse_roster({"participants": [{"name": "Ada"}, {"name": "Ada Lovelace"},
                                            {"name": "x", "id": "fcx"},
                                            {"name": "y", "id": "leaderboard-fan"}]}, EVENT)
    assert [p.id for p in roster] == ["ada", "ada-lovelace", "fcx", "leaderboard-fan"]


def test_no_declared_suffix_is_a_word_before_another_suffix():
    # What keeps exact names apart: `<event>-<a>-<s1>` == `<event>-<a>-<w>-<s2>` would need
    # s1 == w-s2 for suffixes s1, s2.
    from event.names import DECLARED_SUFFIXES
    assert not [(s1, s2) for s1 in DECLARED_SUFFIXES for s2 in DECLARED_SUFFIXES
                if s1.endswith("-" + s2)]
    names = ParticipantNames(EVENT, "ada")
    declared = {names.bucket, names.delivery_stream, names.firehose_role, names.collect_function,
                names.notebook, names.lifecycle_config, names.sagemaker_role, names.endpoint,
                names.inference_function, names.own_api}
    assert {n.removeprefix("aim368-ada-") for n in declared} == set(DECLARED_SUFFIXES)


@pytest.mark.parametrize("email", ["ann", "ann@", "@example.com", "ann@example", "a b@x.com"])
def test_malformed_emails_are_rejected(email):
    assert problems_of([{"name": "Ann", "email": email}]) == [
        f"entry 1 ('Ann'): email {email!r} is not a valid address"]


@pytest.mark.parametrize("account", ["12345", "12345678901a", "1234567890123", True])
def test_malformed_accounts_are_rejected(account):
    assert problems_of([{"name": "Ann", "account": account}]) == [
        f"entry 1 ('Ann'): account {account!r} is not a 12-digit AWS account id"]


def test_an_unquoted_account_must_be_quoted_because_yaml_drops_leading_zeros():
    assert problems_of([{"name": "Ann", "account": 12345678901}]) == [
        "entry 1 ('Ann'): account 12345678901 must be quoted, e.g. account: '012345678901'"]


def test_an_empty_roster_is_rejected():
    assert problems_of([]) == ["the 'participants' list is empty; add at least one participant"]


@pytest.mark.parametrize("document", [{}, {"participant": []}, [], "x", None])
def test_a_document_without_a_participants_list_is_rejected(document):
    assert problems_of(None, document=document) == [
        "the file must have a top-level 'participants:' list"]


def test_unknown_keys_are_caught_with_a_suggestion():
    problems = problems_of([{"name": "Ann", "emial": "ann@example.com"}, {"name": "Bo", "x": 1}],
                           document={"participants": [{"name": "Ann", "emial": "a@b.co"},
                                                      {"name": "Bo", "x": 1}], "event": "x"})
    assert problems == [
        "top level: unknown key 'event'; allowed keys: participants",
        "entry 1 ('Ann'): unknown key 'emial'; did you mean 'email'?",
        "entry 2 ('Bo'): unknown key 'x'; allowed keys: name, id, email, account",
    ]


def test_entries_without_a_name_or_not_a_mapping_are_rejected():
    problems = problems_of([{"id": "ann"}, "Bob", {"name": "  "}])
    assert problems == [
        "entry 1: 'name' is required and must be non-empty text",
        "entry 2: must be a mapping with at least a 'name', got 'Bob'",
        "entry 3 ('  '): 'name' is required and must be non-empty text",
    ]


def test_every_problem_is_reported_at_once():
    problems = problems_of([
        {"name": "Ann", "email": "nope"},
        {"name": "???"},
        {"name": "Ann"},
        {"name": "Cy", "account": "1"},
    ])
    assert len(problems) == 4
    assert [p.split(":")[0] for p in problems] == [
        "entry 1 ('Ann')", "entry 2 ('???')", "entry 4 ('Cy')",
        "entry 1 ('Ann') and entry 3 ('Ann') share the id 'ann'; give them distinct 'id's"]


def test_the_error_message_lists_the_file_and_every_problem(tmp_path):
    path = tmp_path / "participants.yaml"
    path.write_text("participants:\n  - name: Ann\n    email: x\n  - name: '%%'\n")
    with pytest.raises(RosterError) as caught:
        load_roster(path, EVENT)
    message = str(caught.value)
    assert message.startswith(f"{path}: 2 problem(s) in the roster:")
    assert "entry 1 ('Ann'): email 'x'" in message and "entry 2 ('%%')" in message


def test_missing_file_and_bad_yaml_are_clear(tmp_path):
    with pytest.raises(RosterError, match="the roster file does not exist"):
        load_roster(tmp_path / "nope.yaml", EVENT)
    bad = tmp_path / "bad.yaml"
    bad.write_text("participants: [\n")
    with pytest.raises(RosterError, match="not valid YAML"):
        load_roster(bad, EVENT)


def test_the_example_roster_in_the_repository_is_valid():
    from tests.kit import PROJECT_DIR
    roster = load_roster(PROJECT_DIR / "participants.yaml", EVENT)
    assert len(roster) >= 3
