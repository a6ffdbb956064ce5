"""Templates of the built-in order page (``studio.shop``); a package so the HTML ships with the wheel."""
