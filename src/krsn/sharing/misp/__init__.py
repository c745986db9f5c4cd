"""MISP in and out: import events (files, feeds, an instance's API), export a selection as an
event, and publish a feed a MISP instance subscribes to."""
