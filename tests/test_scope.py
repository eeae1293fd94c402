"""The one scope rule (linli.scope): subtrees by path prefix, stations a coordinator is bound to."""

from linli import scope

HUB = "/1/4/"
ORG = "/1/4/17/"
OTHER_HUB = "/1/5/"


def test_a_grant_covers_its_subtree_and_nothing_beside_it():
    assert scope.covers([HUB], ORG) and scope.covers(["/1/"], ORG)
    assert not scope.covers([ORG], HUB) and not scope.covers([OTHER_HUB], ORG) and not scope.covers([], ORG)


def test_a_bound_coordinator_acts_at_its_station_whatever_the_organization():
    assert scope.may_use_station([], [7], 7, OTHER_HUB)
    assert not scope.may_use_station([], [7], 8, ORG)
    assert scope.may_use_station([HUB], None, 8, ORG)


def test_working_for_a_hub_means_over_it_inside_it_or_at_a_station_inside_it():
    assert scope.works_in(["/1/"], [], HUB)  # the county
    assert scope.works_in([ORG], [], HUB)  # an organization of the hub
    assert scope.works_in([], [ORG], HUB)  # bound to a station of one
    assert not scope.works_in([OTHER_HUB], ["/1/5/20/"], HUB)
    assert not scope.works_in([], [], HUB)


def test_the_organizations_above_a_path_are_each_of_its_prefixes_and_it():
    assert scope.above([ORG]) == ["/1/", "/1/4/", "/1/4/17/"]
    assert scope.above([ORG, "/1/5/20/"]) == ["/1/", "/1/4/", "/1/4/17/", "/1/5/", "/1/5/20/"]
    assert scope.above([]) == []
    assert all(scope.covers([p], ORG) for p in scope.above([ORG]))  # the same rule as `covers`
