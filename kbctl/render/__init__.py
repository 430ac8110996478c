"""Renderers: plans (and later apply results) as rich text or Markdown. Pure: they return
renderables and strings, never print; the CLI decides where output goes and whether it has
colour."""
