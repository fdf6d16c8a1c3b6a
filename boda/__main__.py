from boda.cli import app

app()
