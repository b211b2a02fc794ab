"""Editor and tool integrations: the Language Server (`losslint-lsp`) and the flake8 plugin.

Both call the engine the CLI calls; nothing here analyses or fixes code on its own.
"""
