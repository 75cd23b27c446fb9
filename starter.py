"""The command line, as the design card names it: `python starter.py ...` is `collections ...` (see cli/app.py).

python starter.py --help                 the nouns: accounts, payments, disputes, debtors, contacts, ...
python starter.py accounts open account.json
python starter.py payments pay ACCOUNT --amount 12.34 --payment-id P1
"""

from cli.app import run

if __name__ == "__main__":
    run(prog_name="starter.py")
