"""Organizations (组织): the tree county base → hub → community organization → volunteer team,
partner enterprises beside it, and stations (where scans happen)."""
