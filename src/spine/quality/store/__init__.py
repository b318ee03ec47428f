"""The data-quality part's rows in spine's database (spec 004 tables): the only SQL of the part."""
