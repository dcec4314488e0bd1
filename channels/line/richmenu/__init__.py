"""The LINE rich menu: its definition (richmenu.json), image, drawing and registration."""
