"""Micro-grant rounds (公益微创投): a hub's call for projects, their review and selection, the public
notice, the money each granted project is given and spends, and what the projects deliver."""
