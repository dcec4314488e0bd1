"""Step-by-step guides: typed state, control words, pure transitions and rendering."""
