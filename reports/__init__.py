"""Usage reports for partners and hubs (报表): aggregates only, built by worker jobs."""
