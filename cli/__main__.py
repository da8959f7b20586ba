from tawa.cli.main import app

app()
