"""Texts and locale formatting for rendered documents (EN, NL, FR, DE).

Numbers, amounts, dates and country names come from Babel (CLDR), so they follow each locale's own conventions
(e.g. "€ 1.234,50" in Dutch, "1 234,50 €" in French). Only the sentences and labels live here.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import cache

from babel import Locale
from babel.dates import format_date as _babel_date
from babel.numbers import format_currency, format_decimal, format_percent

from postal.models import Language

LOCALES: dict[Language, str] = {
    Language.EN: "en_GB",
    Language.NL: "nl_NL",
    Language.FR: "fr_FR",
    Language.DE: "de_DE",
}

# Title per document kind (keyed by `DocumentKind` value); letters and cover pages carry no title.
TITLES: dict[Language, dict[str, str]] = {
    Language.EN: {
        "invoice": "Invoice",
        "reminder": "Payment reminder",
        "final_notice": "Final notice",
        "payment_plan_reminder": "Payment plan reminder",
    },
    Language.NL: {
        "invoice": "Factuur",
        "reminder": "Betalingsherinnering",
        "final_notice": "Laatste aanmaning",
        "payment_plan_reminder": "Herinnering betalingsregeling",
    },
    Language.FR: {
        "invoice": "Facture",
        "reminder": "Rappel de paiement",
        "final_notice": "Dernier rappel avant recouvrement",
        "payment_plan_reminder": "Rappel d'échéancier de paiement",
    },
    Language.DE: {
        "invoice": "Rechnung",
        "reminder": "Zahlungserinnerung",
        "final_notice": "Letzte Mahnung",
        "payment_plan_reminder": "Erinnerung Ratenzahlung",
    },
}

# Opening sentence per kind; `{amount}` is the amount to pay, `{due}` the (latest) due date.
INTROS: dict[Language, dict[str, str]] = {
    Language.EN: {
        "invoice": "Please pay {amount} by {due}, quoting the payment reference.",
        "reminder": "According to our records the invoices below are still unpaid.",
        "final_notice": "Despite our earlier reminders the invoices below are still unpaid. "
        "If we do not receive payment by {deadline}, we will take further collection steps.",
        "payment_plan_reminder": "This is a reminder of your payment plan. The open amount is {amount}.",
    },
    Language.NL: {
        "invoice": "Gelieve {amount} te betalen vóór {due}, met vermelding van de betalingsreferentie.",
        "reminder": "Volgens onze administratie zijn onderstaande facturen nog niet betaald.",
        "final_notice": "Ondanks onze eerdere herinneringen zijn onderstaande facturen nog niet betaald. "
        "Ontvangen wij uw betaling niet uiterlijk op {deadline}, dan nemen wij verdere incassomaatregelen.",
        "payment_plan_reminder": "Dit is een herinnering aan uw betalingsregeling. Het openstaande bedrag is {amount}.",
    },
    Language.FR: {
        "invoice": "Merci de régler {amount} avant le {due} en indiquant la référence de paiement.",
        "reminder": "Selon nos informations, les factures ci-dessous restent impayées.",
        "final_notice": "Malgré nos rappels, les factures ci-dessous restent impayées. "
        "À défaut de paiement au plus tard le {deadline}, nous engagerons une procédure de recouvrement.",
        "payment_plan_reminder": "Ceci est un rappel de votre échéancier de paiement. Le montant dû est de {amount}.",
    },
    Language.DE: {
        "invoice": "Bitte zahlen Sie {amount} bis zum {due} unter Angabe der Zahlungsreferenz.",
        "reminder": "Laut unseren Unterlagen sind die folgenden Rechnungen noch offen.",
        "final_notice": "Trotz unserer Erinnerungen sind die folgenden Rechnungen noch offen. "
        "Geht Ihre Zahlung nicht bis zum {deadline} ein, leiten wir weitere Inkassoschritte ein.",
        "payment_plan_reminder": "Dies ist eine Erinnerung an Ihre Ratenzahlung. Der offene Betrag beträgt {amount}.",
    },
}

LABELS: dict[Language, dict[str, str]] = {
    Language.EN: {
        "colon": ":",  # after a label
        "date": "Date",
        "invoice_number": "Invoice number",
        "issue_date": "Invoice date",
        "due_date": "Due date",
        "reference": "Payment reference",
        "description": "Description",
        "quantity": "Qty",
        "unit_price": "Unit price",
        "vat": "VAT",
        "amount": "Amount",
        "subtotal": "Subtotal excl. VAT",
        "vat_on": "VAT {rate} on {base}",
        "total": "Total",
        "open_amount": "Open amount",
        "total_open": "Total open amount",
        "fee": "Paper invoice fee",
        "page": "Page {page} of {pages}",
        "scan_epc": "Scan with your banking app to pay by bank transfer.",
        "scan_portal": "Scan to pay online.",
        "customer_number": "Customer number",
        "our_vat": "Our VAT number",
        "your_vat": "Your VAT number",
        "supply_date": "Date of supply",
        "contact": "Contact",
        "phone": "Phone",
        "email": "E-mail",
        "vat_exempt": "VAT {rate}: {reason}",
        "days_overdue": "Days overdue",
        "deadline": "Please pay {amount} by {deadline} at the latest.",
        "disregard": "If you have paid in the meantime, please disregard this letter.",
        "invoices_ref": "{count} invoices {first} to {last}",
        "instalment_due_date": "Due date",
        "instalment_amount": "Instalment",
        "instalment_status": "Status",
        "paid": "paid",
        "open": "open",
        "instalment_due": "Instalment due: {amount}, to be paid by {deadline}.",
        "continued": "{title} · {name} · {date}",
    },
    Language.NL: {
        "colon": ":",  # after a label
        "date": "Datum",
        "invoice_number": "Factuurnummer",
        "issue_date": "Factuurdatum",
        "due_date": "Vervaldatum",
        "reference": "Betalingsreferentie",
        "description": "Omschrijving",
        "quantity": "Aantal",
        "unit_price": "Prijs",
        "vat": "Btw",
        "amount": "Bedrag",
        "subtotal": "Subtotaal excl. btw",
        "vat_on": "Btw {rate} over {base}",
        "total": "Totaal",
        "open_amount": "Openstaand",
        "total_open": "Totaal openstaand",
        "fee": "Toeslag papieren factuur",
        "page": "Pagina {page} van {pages}",
        "scan_epc": "Scan met uw bankapp om per overschrijving te betalen.",
        "scan_portal": "Scan om online te betalen.",
        "customer_number": "Klantnummer",
        "our_vat": "Ons btw-nummer",
        "your_vat": "Uw btw-nummer",
        "supply_date": "Leveringsdatum",
        "contact": "Contactpersoon",
        "phone": "Telefoon",
        "email": "E-mail",
        "vat_exempt": "Btw {rate}: {reason}",
        "days_overdue": "Dagen te laat",
        "deadline": "Gelieve {amount} uiterlijk op {deadline} te betalen.",
        "disregard": "Heeft u inmiddels betaald, dan kunt u deze brief als niet verzonden beschouwen.",
        "invoices_ref": "{count} facturen {first} t/m {last}",
        "instalment_due_date": "Vervaldatum",
        "instalment_amount": "Termijn",
        "instalment_status": "Status",
        "paid": "betaald",
        "open": "open",
        "instalment_due": "Te betalen termijn: {amount}, uiterlijk op {deadline}.",
        "continued": "{title} · {name} · {date}",
    },
    Language.FR: {
        "colon": "\u00a0:",  # after a label
        "date": "Date",
        "invoice_number": "Numéro de facture",
        "issue_date": "Date de facture",
        "due_date": "Échéance",
        "reference": "Référence de paiement",
        "description": "Désignation",
        "quantity": "Qté",
        "unit_price": "Prix unitaire",
        "vat": "TVA",
        "amount": "Montant",
        "subtotal": "Sous-total HT",
        "vat_on": "TVA {rate} sur {base}",
        "total": "Total TTC",
        "open_amount": "Montant dû",
        "total_open": "Total dû",
        "fee": "Frais de facture papier",
        "page": "Page {page} sur {pages}",
        "scan_epc": "Scannez avec votre application bancaire pour payer par virement.",
        "scan_portal": "Scannez pour payer en ligne.",
        "customer_number": "Numéro client",
        "our_vat": "Notre n° de TVA",
        "your_vat": "Votre n° de TVA",
        "supply_date": "Date de livraison",
        "contact": "Contact",
        "phone": "Téléphone",
        "email": "E-mail",
        "vat_exempt": "TVA {rate}\u00a0: {reason}",
        "days_overdue": "Jours de retard",
        "deadline": "Merci de régler {amount} au plus tard le {deadline}.",
        "disregard": "Si vous avez réglé entre-temps, merci de ne pas tenir compte de ce courrier.",
        "invoices_ref": "{count} factures {first} à {last}",
        "instalment_due_date": "Échéance",
        "instalment_amount": "Mensualité",
        "instalment_status": "Statut",
        "paid": "payée",
        "open": "due",
        "instalment_due": "Échéance à régler\u00a0: {amount}, au plus tard le {deadline}.",
        "continued": "{title} · {name} · {date}",
    },
    Language.DE: {
        "colon": ":",  # after a label
        "date": "Datum",
        "invoice_number": "Rechnungsnummer",
        "issue_date": "Rechnungsdatum",
        "due_date": "Fällig am",
        "reference": "Zahlungsreferenz",
        "description": "Beschreibung",
        "quantity": "Menge",
        "unit_price": "Einzelpreis",
        "vat": "USt.",
        "amount": "Betrag",
        "subtotal": "Zwischensumme netto",
        "vat_on": "USt. {rate} auf {base}",
        "total": "Gesamtbetrag",
        "open_amount": "Offener Betrag",
        "total_open": "Offener Gesamtbetrag",
        "fee": "Gebühr Papierrechnung",
        "page": "Seite {page} von {pages}",
        "scan_epc": "Mit Ihrer Banking-App scannen, um per Überweisung zu zahlen.",
        "scan_portal": "Scannen, um online zu bezahlen.",
        "customer_number": "Kundennummer",
        "our_vat": "Unsere USt-IdNr.",
        "your_vat": "Ihre USt-IdNr.",
        "supply_date": "Leistungsdatum",
        "contact": "Ansprechpartner",
        "phone": "Telefon",
        "email": "E-Mail",
        "vat_exempt": "USt. {rate}: {reason}",
        "days_overdue": "Tage überfällig",
        "deadline": "Bitte zahlen Sie {amount} spätestens bis zum {deadline}.",
        "disregard": "Sollten Sie inzwischen bezahlt haben, betrachten Sie dieses Schreiben bitte als gegenstandslos.",
        "invoices_ref": "{count} Rechnungen {first} bis {last}",
        "instalment_due_date": "Fällig am",
        "instalment_amount": "Rate",
        "instalment_status": "Status",
        "paid": "bezahlt",
        "open": "offen",
        "instalment_due": "Fällige Rate: {amount}, zu zahlen bis zum {deadline}.",
        "continued": "{title} · {name} · {date}",
    },
}


@cache
def _locale(language: Language) -> Locale:
    # Parsed once: Babel would otherwise parse the identifier on every call.
    return Locale.parse(LOCALES[language])


def money(amount: Decimal, currency: str, language: Language) -> str:
    """An amount with its currency, formatted for the language's locale."""
    return format_currency(amount, currency, locale=_locale(language))


def day(value: date, language: Language, *, long: bool = False) -> str:
    """A date in the locale's medium form ("1 Mar 2025") or long form ("1 March 2025")."""
    return _babel_date(value, "long" if long else "medium", locale=_locale(language))


def number(value: Decimal, language: Language) -> str:
    """A plain number (quantities), without trailing zeros."""
    return format_decimal(value.normalize(), locale=_locale(language))


def percent(rate: Decimal, language: Language) -> str:
    """A VAT rate given in percent (21 -> "21%", 5.5 -> "5,5 %" in French)."""
    return format_percent(rate / 100, format="#,##0.##%", locale=_locale(language))


def days(count: int, language: Language) -> str:
    """A whole number of days as a plain locale number."""
    return format_decimal(count, locale=_locale(language))
