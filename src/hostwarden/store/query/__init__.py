"""The search language's stages: lexer → parser (AST) → compiler (parameterized SQL).

The public entry points are in `hostwarden.store.search`.
"""
