"""The plugin's dialogs."""
