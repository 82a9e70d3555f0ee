"""Turns documents into cited answers: load -> split -> embed -> store -> retrieve -> answer."""
