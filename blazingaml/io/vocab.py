"""The fixed vocabularies of the IBM AML data: currencies, payment formats, typologies.

Codes are positions in these tuples; they are part of the Parquet format and of saved models,
so entries are only ever appended.
"""

CURRENCIES = (
    "US Dollar", "Euro", "Yuan", "Yen", "Rupee", "Ruble", "UK Pound", "Canadian Dollar",
    "Australian Dollar", "Swiss Franc", "Mexican Peso", "Brazil Real", "Shekel", "Saudi Riyal",
    "Bitcoin",
)

PAYMENT_FORMATS = ("Cheque", "Credit Card", "ACH", "Cash", "Reinvestment", "Wire", "Bitcoin")

TYPOLOGIES = (
    "FAN-OUT", "FAN-IN", "GATHER-SCATTER", "SCATTER-GATHER", "CYCLE", "RANDOM", "BIPARTITE", "STACK",
)

CURRENCY_CODE = {name: i for i, name in enumerate(CURRENCIES)}
FORMAT_CODE = {name: i for i, name in enumerate(PAYMENT_FORMATS)}
TYPOLOGY_CODE = {name: i for i, name in enumerate(TYPOLOGIES)}

# Exact header of *_Trans.csv (two columns are literally named "Account").
TRANS_HEADER = (
    "Timestamp", "From Bank", "Account", "To Bank", "Account", "Amount Received",
    "Receiving Currency", "Amount Paid", "Payment Currency", "Payment Format", "Is Laundering",
)
TIMESTAMP_FORMAT = "%Y/%m/%d %H:%M"
