"""The inspector (phase 6): the inspection form from its template, pass or fail as values are typed."""
