"""KV database and table names: the rule every process checks (`micro.node.api.names`)."""

import pytest
from micro.node.api.errors import InvalidArgument
from micro.node.api.names import check_name, prefix_end


@pytest.mark.parametrize("name", ["default", "app", "a.b-c_d", "0", "x" * 64])
def test_names_of_letters_digits_dots_dashes_and_underscores_are_valid(name: str) -> None:
    check_name("database", name)


@pytest.mark.parametrize("name", ["", "bad name", ".hidden", "-x", "x" * 65, "a/b", "a\x1b[31m", "é"])
def test_other_names_are_refused_naming_the_kind_and_the_rule(name: str) -> None:
    with pytest.raises(InvalidArgument, match="invalid table name .*1-64 letters"):
        check_name("table", name)


@pytest.mark.parametrize(("prefix", "end"), [("", None), ("a", "b"), ("ab", "ac"), ("a\U0010ffff", "b"),
                                             ("\U0010ffff", None)])
def test_a_prefix_range_ends_at_the_least_string_above_it(prefix: str, end: str | None) -> None:
    assert prefix_end(prefix) == end
