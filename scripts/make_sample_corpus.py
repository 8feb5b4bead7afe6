"""Generate a small, fictional sample corpus for Enclave.

The corpus is a made-up employee handbook for the fictional company
"Northwind Analytics", split across four documents in four formats so that
every ingestion path (PDF, DOCX, HTML, Markdown) gets exercised:

* ``travel-and-expenses.pdf`` - travel booking, per diem and expense reports
  (reportlab, three pages, one table).
* ``leave-policy.docx`` - annual, sick, parental and bereavement leave
  (python-docx, Heading 1/Heading 2 styles, one table).
* ``it-security.html`` - passwords, MFA, devices and incident reporting
  (HTML5 with h1/h2/h3, a list and a table).
* ``onboarding.md`` - first day, probation, payroll and office hours
  (Markdown with headings, lists and a pipe table).

Everything is generated locally; nothing is downloaded. Output is
deterministic: running the script twice produces byte-identical files.

The module-level ``QUESTIONS`` list holds question/gold-answer pairs for
retrieval and answer-quality smoke tests. Every ``answer`` string appears
verbatim in the extracted text of its ``document``.

Usage::

    python scripts/make_sample_corpus.py [OUT_DIR] [--questions PATH]
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import io
import json
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape

DEFAULT_OUT_DIR = "var/sample_corpus"

COMPANY = "Northwind Analytics"

PDF_NAME = "travel-and-expenses.pdf"
DOCX_NAME = "leave-policy.docx"
HTML_NAME = "it-security.html"
MD_NAME = "onboarding.md"

# Fixed timestamp used for document metadata and zip entries, so that output
# does not depend on the time the script is run.
FIXED_DATETIME = dt.datetime(2024, 1, 15, 9, 0, 0)

QUESTIONS: list[dict[str, str]] = [
    # travel-and-expenses.pdf
    {
        "question": "What is the daily meal allowance for domestic trips?",
        "document": PDF_NAME,
        "answer": "EUR 45",
    },
    {
        "question": "What is the daily meal allowance for international trips?",
        "document": PDF_NAME,
        "answer": "EUR 60",
    },
    {
        "question": "What is the maximum hotel cost per night on business trips?",
        "document": PDF_NAME,
        "answer": "EUR 180",
    },
    {
        "question": "Which cabin class must be booked for flights shorter than 6 hours?",
        "document": PDF_NAME,
        "answer": "economy class",
    },
    {
        "question": "Within how many days must expense reports be submitted?",
        "document": PDF_NAME,
        "answer": "30 days",
    },
    {
        "question": "Through which portal are expense reports submitted?",
        "document": PDF_NAME,
        "answer": "Ledger",
    },
    {
        "question": "Above which amount is a receipt required for an expense?",
        "document": PDF_NAME,
        "answer": "EUR 25",
    },
    {
        "question": "At what rate is business mileage with a private car reimbursed?",
        "document": PDF_NAME,
        "answer": "EUR 0.30",
    },
    # leave-policy.docx
    {
        "question": "How many days of annual leave do employees get?",
        "document": DOCX_NAME,
        "answer": "28 days",
    },
    {
        "question": "By what date must carried-over leave days be used?",
        "document": DOCX_NAME,
        "answer": "31 March",
    },
    {
        "question": "After how many days of sickness is a doctor's note required?",
        "document": DOCX_NAME,
        "answer": "3 consecutive days",
    },
    {
        "question": "How long is fully paid parental leave for the primary caregiver?",
        "document": DOCX_NAME,
        "answer": "16 weeks",
    },
    {
        "question": "How much parental leave does the secondary caregiver get?",
        "document": DOCX_NAME,
        "answer": "6 weeks",
    },
    {
        "question": "Which HR system is used to request leave?",
        "document": DOCX_NAME,
        "answer": "Harbor",
    },
    {  # one cell of the notice-period table
        "question": "How much notice is needed for an absence of more than 15 days?",
        "document": DOCX_NAME,
        "answer": "1 month",
    },
    # it-security.html
    {
        "question": "What is the minimum password length?",
        "document": HTML_NAME,
        "answer": "14 characters",
    },
    {
        "question": "Which hardware key must administrators use for MFA?",
        "document": HTML_NAME,
        "answer": "YubiKey",
    },
    {
        "question": "Where should suspected phishing emails be forwarded?",
        "document": HTML_NAME,
        "answer": "security@northwind.example",
    },
    {
        "question": "Which phone extension do I call to report a lost laptop?",
        "document": HTML_NAME,
        "answer": "4357",
    },
    {
        "question": "Which VPN must be used on public Wi-Fi?",
        "document": HTML_NAME,
        "answer": "Tunnel",
    },
    # onboarding.md
    {
        "question": "In which building is reception on the first day?",
        "document": MD_NAME,
        "answer": "Ridgeway House",
    },
    {
        "question": "How long is the probation period?",
        "document": MD_NAME,
        "answer": "6 months",
    },
    {
        "question": "On which day of the month is salary paid?",
        "document": MD_NAME,
        "answer": "25th",
    },
    {  # one cell of the first-week table
        "question": "What is the focus of the Wednesday of the first week?",
        "document": MD_NAME,
        "answer": "Security training and tools",
    },
    {
        "question": "Who should new joiners email with onboarding questions?",
        "document": MD_NAME,
        "answer": "onboarding@northwind.example",
    },
]


# ---------------------------------------------------------------------------
# Document model
# ---------------------------------------------------------------------------
#
# Each document is a list of blocks. A block is a tuple whose first element
# is its kind:
#   ("h1" | "h2" | "h3", text)
#   ("p", text)
#   ("ul", [item, ...])
#   ("table", [header, ...], [[cell, ...], ...])
#   ("pagebreak",)            # only meaningful for the PDF
Block = tuple
Blocks = list[Block]


TRAVEL_BLOCKS: Blocks = [
    ("h1", f"{COMPANY} - Travel and Expenses Policy"),
    (
        "p",
        f"This policy explains how employees of {COMPANY} plan business "
        "travel, which costs the company covers, and how those costs are "
        "claimed back. It applies to all permanent employees, fixed-term "
        "staff and interns who travel on behalf of the company, whether the "
        "trip is to a client site, a conference or another office. "
        "Contractors follow the terms of their own agreements.",
    ),
    (
        "p",
        "The guiding principle is simple: travel when it creates real value "
        "for a client or for the team, spend company money as carefully as "
        "you would spend your own, and keep a clear record of what you spent. "
        "Where this policy does not cover a situation, ask your manager "
        "before you commit to the cost rather than after.",
    ),
    ("h2", "1. Booking business travel"),
    (
        "p",
        "Every trip needs approval from your line manager before anything is "
        "booked. For trips inside the home country an email confirmation is "
        "enough; for trips abroad the approval is recorded in the travel "
        "request form together with the purpose of the trip, the expected "
        "dates and a rough estimate of the total cost. Bookings are made "
        "through the company travel desk so that tickets, hotels and "
        "insurance are handled consistently and we can reach travellers if "
        "plans change.",
    ),
    ("h3", "Flights"),
    (
        "p",
        "For flights under 6 hours you must book economy class. Business "
        "class is allowed for flights of 6 hours or more, measured as the "
        "scheduled duration of the longest single leg. Premium economy is "
        "not booked by default, but the travel desk may choose it when it "
        "costs less than a flexible economy fare. Please book at least two "
        "weeks ahead where possible, because late bookings are often "
        "significantly more expensive.",
    ),
    (
        "p",
        "Rail is preferred over flying for journeys that take less than "
        "four hours door to door. Trains are usually more productive, and "
        "they fit our commitment to reducing the carbon footprint of "
        "business travel. Standard class is the default for rail tickets.",
    ),
    ("h3", "Hotels"),
    (
        "p",
        "The hotel cap is EUR 180 per night, including taxes but excluding "
        "breakfast if it is charged separately. The travel desk keeps a list "
        "of preferred hotels near our offices and our largest clients; these "
        "hotels are normally well below the cap. If a major event in the "
        "city pushes all reasonable options above the limit, your manager "
        "can approve an exception in writing before the booking is made.",
    ),
    ("h3", "Cars and local transport"),
    (
        "p",
        "Public transport, airport trains and shared shuttles are the "
        "default for local travel. Taxis are fine late at night, when "
        "carrying heavy equipment, or when there is no practical "
        "alternative. When you use your own private car for a business "
        "trip, mileage is reimbursed at EUR 0.30/km, based on the "
        "shortest reasonable route. Parking and tolls can be claimed "
        "in addition to the mileage. Rental cars should be booked in the "
        "compact category unless several colleagues travel together.",
    ),
    ("pagebreak",),
    ("h2", "2. Meals and per diem"),
    (
        "p",
        "While you are travelling on business the company pays a fixed "
        "daily allowance for meals instead of reimbursing individual "
        "restaurant bills. The daily meal allowance is EUR 45 for domestic "
        "trips and EUR 60 for international trips. The allowance is meant "
        "to cover breakfast, lunch, dinner, drinks and small incidentals "
        "such as tips and bottled water.",
    ),
    (
        "p",
        "The allowance is paid for each full travel day. On the day you "
        "leave and the day you return, you receive half of the allowance if "
        "you are away for more than eight hours. If a meal is already "
        "provided, for example breakfast included in the hotel rate or "
        "lunch served at a conference, the matching share is deducted "
        "according to the table below.",
    ),
    (
        "table",
        ["Meal", "Domestic trips", "International trips"],
        [
            ["Breakfast", "EUR 10", "EUR 12"],
            ["Lunch", "EUR 15", "EUR 20"],
            ["Dinner", "EUR 20", "EUR 28"],
            ["Full day total", "EUR 45", "EUR 60"],
        ],
    ),
    (
        "p",
        "You do not need to keep receipts for meals covered by the per "
        "diem, and you may spend more or less than the allowance as you see "
        "fit. Alcohol is never reimbursed as a separate expense, and the "
        "company does not pay for meals of family members or friends who "
        "join you on a trip.",
    ),
    ("h3", "Client entertainment"),
    (
        "p",
        "Meals with clients or partners are not part of the per diem. They "
        "are claimed as client entertainment, with the names of the guests, "
        "their organisation and the business purpose written on the claim. "
        "Client entertainment should be modest and proportionate to the "
        "relationship, and any single event with more than six guests needs "
        "approval from a director in advance.",
    ),
    (
        "p",
        "When several employees attend the same client meal, the most "
        "senior person present pays and submits the claim, so that the "
        "cost is recorded only once. The per diem of everyone who attended "
        "is reduced by the dinner share for that day.",
    ),
    ("pagebreak",),
    ("h2", "3. Expense reports"),
    (
        "p",
        "Costs that are not paid directly by the travel desk are claimed "
        "through an expense report. Expense reports are due within 30 days "
        "of the end of the trip and are submitted through the Ledger "
        "portal, which is available from the intranet and the mobile app. "
        "Reports submitted later than that need a written explanation and "
        "approval from your manager, and may be rejected by Finance.",
    ),
    ("h3", "Receipts"),
    (
        "p",
        "Receipts are required for every expense above EUR 25. Photograph "
        "or scan each receipt and attach it to the matching line of the "
        "report; paper originals do not need to be posted to Finance unless "
        "they ask for them. For smaller amounts a short description of the "
        "expense is enough, but Finance may still ask for details during a "
        "spot check. Lost receipts can be replaced by a signed declaration "
        "no more than twice per calendar year.",
    ),
    ("h3", "Approval and payment"),
    (
        "p",
        "Once you submit a report, your line manager reviews it and either "
        "approves it or sends it back with questions. Finance then checks "
        "the report against this policy. Approved amounts are paid to your "
        "salary account with the next weekly payment run. Card statements "
        "for corporate credit cards are matched against expense reports "
        "automatically, so every card transaction must appear in a report.",
    ),
    (
        "p",
        "Claims in foreign currencies are converted at the exchange rate on "
        "the date of the transaction, or at the rate shown on your card "
        "statement if you paid by card. Bank fees charged for using a "
        "personal card abroad can be claimed as a separate line.",
    ),
    ("h3", "Questions and exceptions"),
    (
        "p",
        "If something is unclear, contact the Finance team through the "
        "help page of the expense portal before you spend the money. "
        "Repeated or deliberate breaches of this policy are handled under "
        "the disciplinary procedure, and claims that turn out to be "
        "incorrect are deducted from a later salary payment.",
    ),
]


LEAVE_BLOCKS: Blocks = [
    ("title", f"{COMPANY} - Leave Policy"),
    (
        "p",
        f"Time away from work matters. {COMPANY} wants everyone to rest, "
        "recover and take care of family, and this policy describes the "
        "types of leave available, how much of each you are entitled to, "
        "and how to request it. It applies to all employees on permanent "
        "and fixed-term contracts. Part-time employees receive the same "
        "entitlements on a pro rata basis.",
    ),
    ("h1", "Annual leave"),
    ("h2", "Entitlement"),
    (
        "p",
        "Full-time employees receive 28 days of annual leave per calendar "
        "year, in addition to public holidays. Employees who join or leave "
        "during the year receive a proportional share, rounded up to the "
        "nearest half day. Public holidays follow the official calendar of "
        "the office where you are based; if a public holiday falls on one "
        "of your regular working days, it does not count against your "
        "annual leave.",
    ),
    (
        "p",
        "We expect everyone to take a proper break during the year, with at "
        "least one period of two consecutive weeks off. Managers review "
        "leave balances every quarter and will remind you if you have "
        "taken very little time off so far.",
    ),
    ("h2", "Carry-over"),
    (
        "p",
        "Up to 5 days of unused annual leave can be carried over to the "
        "next year. Carried-over days must be used by 31 March of the "
        "following year; any carried-over days not taken by then expire "
        "automatically. Leave beyond the carry-over limit cannot be paid "
        "out, except when your employment ends and local law requires a "
        "payment for untaken leave.",
    ),
    ("h2", "Requesting leave"),
    (
        "p",
        "All leave requests are made through the Harbor HR system, where "
        "you can also see your remaining balance and the planned absences "
        "of your team. For periods over 3 days, requests must be submitted "
        "at least 2 weeks ahead so that your manager can plan cover. Shorter "
        "absences can be requested at short notice, although a couple of "
        "working days of warning is appreciated. The table below summarises "
        "notice periods and approvers.",
    ),
    (
        "table",
        ["Length of absence", "Minimum notice", "Approved by"],
        [
            ["Up to 3 days", "2 working days", "Line manager"],
            ["4 to 15 days", "2 weeks", "Line manager"],
            ["More than 15 days", "1 month", "Line manager and department head"],
        ],
    ),
    (
        "p",
        "Managers respond to requests within five working days. If two "
        "people in a small team ask for the same period, requests are "
        "generally approved in the order they were received, though "
        "managers may rotate popular holiday periods from year to year.",
    ),
    ("h1", "Sick leave"),
    ("h2", "Reporting sickness"),
    (
        "p",
        "If you are too ill to work, notify your manager before 10:00 on "
        "the first day of absence, by phone or chat message, and record the "
        "absence in Harbor as soon as you are able to. There is no need to "
        "share medical details with your manager; a short message that you "
        "are unwell and how long you expect to be away is enough.",
    ),
    ("h2", "Medical certificates"),
    (
        "p",
        "A doctor's note is required after 3 consecutive days of sickness. "
        "Upload a copy of the note to Harbor; HR stores it separately from "
        "your personnel file and only shares it where the law requires. "
        "Weekends and public holidays count towards the consecutive days "
        "when they fall inside a period of sickness.",
    ),
    (
        "p",
        "For longer or recurring illness, HR and your manager will work "
        "with you and, where appropriate, an occupational health adviser "
        "to plan a gradual return to work. Sick leave does not reduce your "
        "annual leave, and if you fall ill during a holiday, the sick days "
        "can be converted back into annual leave once they are certified.",
    ),
    ("h1", "Family leave"),
    ("h2", "Parental leave"),
    (
        "p",
        "The primary caregiver of a newborn or newly adopted child is "
        "entitled to 16 weeks of fully paid parental leave. The secondary "
        "caregiver is entitled to 6 weeks of fully paid parental leave, "
        "which can be taken in one block or split into up to three blocks "
        "during the first year after the birth or adoption. These benefits "
        "apply regardless of gender and top up any statutory payments.",
    ),
    (
        "p",
        "Please tell HR about planned parental leave as early as you feel "
        "comfortable, ideally three months before the expected date. HR "
        "will arrange a planning meeting to discuss handover, keeping-in-"
        "touch days and flexible arrangements for your return.",
    ),
    ("h2", "Bereavement leave"),
    (
        "p",
        "If a close family member dies, you are entitled to 5 days of paid "
        "bereavement leave. Close family includes a partner, child, parent, "
        "sibling, grandparent or grandchild, including step and in-law "
        "relationships. The days do not need to be consecutive, so that "
        "you can attend a funeral that takes place some time later. Your "
        "manager can grant additional unpaid or annual leave where needed.",
    ),
    (
        "p",
        "Bereavement leave is recorded in Harbor like any other absence, "
        "but you do not need to request it in advance. A short message to "
        "your manager is enough; they or HR will enter the days for you if "
        "you prefer not to deal with the system at a difficult time.",
    ),
    ("h1", "Leave and the end of employment"),
    (
        "p",
        "When you resign or your contract ends, your remaining annual leave "
        "is calculated up to your last working day. In most cases we ask "
        "you to take outstanding leave during the notice period, agreed "
        "with your manager so that handover is not put at risk. Where that "
        "is not possible, untaken statutory leave is paid out with your "
        "final salary. Leave taken in excess of the proportional "
        "entitlement may be deducted from the final payment.",
    ),
    (
        "p",
        "Managers should make sure that leave balances are discussed in "
        "the exit meeting, and HR checks the final balance in Harbor before "
        "the last payroll run for the leaver.",
    ),
    ("h1", "Other leave"),
    (
        "p",
        "Other types of leave, such as unpaid leave, time off for public "
        "duties, study leave and moving days, are agreed individually with "
        "your manager and HR. Ask early, explain what you need, and we will "
        "try to find an arrangement that works for you and for the team.",
    ),
]


SECURITY_BLOCKS: Blocks = [
    ("h1", f"{COMPANY} IT Security Policy"),
    (
        "p",
        f"Our clients trust {COMPANY} with sensitive data, and that trust "
        "depends on every employee following a small number of security "
        "rules every day. This page sets out those rules. It applies to "
        "all employees, contractors and temporary staff who use company "
        "devices, accounts or networks, and to any personal device that is "
        "used to access company information.",
    ),
    (
        "p",
        "The Security team reviews this policy at least once a year. If a "
        "rule gets in the way of your work, talk to us: there is usually a "
        "secure way to achieve what you need, and we would rather find it "
        "with you than have the rule quietly ignored.",
    ),
    ("h2", "Accounts and authentication"),
    ("h3", "Passwords"),
    (
        "p",
        "Passwords must be at least 14 characters long. We recommend "
        "passphrases made of several unrelated words, which are easier to "
        "remember and harder to guess than short complex strings. Use the "
        "company password manager to generate and store passwords, and "
        "never reuse a company password on any other site.",
    ),
    (
        "p",
        "Passwords are not changed on a fixed schedule. They are rotated "
        "only on suspected compromise, for example after a phishing attempt "
        "in which you may have entered your password, or when the Security "
        "team asks you to. Frequent forced changes tend to produce weaker "
        "passwords, which is why we no longer require them.",
    ),
    ("h3", "Multi-factor authentication"),
    (
        "p",
        "Multi-factor authentication (MFA) is mandatory for every company "
        "account, including email, chat, source code hosting and the HR "
        "and finance systems. Most employees use the authenticator app on "
        "their company phone. Administrators must use a hardware security "
        "key, a YubiKey issued by IT, for all privileged accounts; app "
        "codes and text messages are not accepted as a second factor for "
        "administrator access.",
    ),
    ("h2", "Devices"),
    ("h3", "Laptops and encryption"),
    (
        "p",
        "All company laptops are protected with full-disk encryption: "
        "BitLocker on Windows and FileVault on macOS. Encryption is enabled "
        "by IT before a laptop is handed out and is checked continuously "
        "by the device management system; a laptop that reports encryption "
        "as disabled loses access to company services until it is fixed.",
    ),
    (
        "p",
        "Keep the operating system and applications up to date. Updates "
        "are pushed automatically, and you will be asked to restart when "
        "an important patch is installed. Please do not postpone restarts "
        "for more than a day.",
    ),
    ("h3", "Everyday device rules"),
    (
        "p",
        "The following rules apply to every device that holds or accesses "
        "company information:",
    ),
    (
        "ul",
        [
            "Screens lock automatically after 5 minutes of inactivity; lock "
            "your screen yourself whenever you step away.",
            "USB storage devices are blocked on all company laptops. Use the "
            "company file sharing service to exchange files instead.",
            "On public Wi-Fi in hotels, trains, airports or cafes you must "
            "connect through the company VPN, called Tunnel, before you "
            "open any company application.",
            "Do not install software from unknown sources; request new "
            "tools through the IT service portal.",
            "Never leave a laptop unattended in a car or a public place.",
        ],
    ),
    ("h3", "Lost or stolen devices"),
    (
        "p",
        "If a laptop, phone or security key is lost or stolen, report it "
        "to the IT helpdesk on extension 4357 straight away, day or night. "
        "The helpdesk can lock and wipe the device remotely, but only if "
        "they hear about it quickly. You will not be blamed for reporting "
        "a loss; the risk comes from losses that are not reported.",
    ),
    ("h2", "Email and phishing"),
    (
        "p",
        "Phishing remains the most common way attackers try to get into "
        "companies like ours. Be suspicious of unexpected messages that "
        "create urgency, ask for credentials or payments, or contain "
        "attachments you were not expecting, even when they seem to come "
        "from a colleague or a well-known supplier.",
    ),
    (
        "p",
        "If you receive a suspected phishing email, forward it to "
        "security@northwind.example within 1 hour and then delete it from "
        "your inbox. If you already clicked a link or entered your "
        "password, say so in the forwarded message; the Security team will "
        "help you secure your account, and the sooner they know, the "
        "smaller the damage.",
    ),
    ("h2", "Handling information"),
    (
        "p",
        "Client data is stored only in the systems approved for it: the "
        "project workspaces, the document management system and the "
        "analytics environments run by IT. Do not copy client data to "
        "personal cloud storage, personal email accounts or messaging apps, "
        "even temporarily, and do not take client data home on paper "
        "unless the engagement lead has agreed to it.",
    ),
    (
        "p",
        "When a project ends, data is returned or deleted according to the "
        "client contract. The engagement lead confirms the deletion with "
        "IT, and the confirmation is kept in the project record. If you are "
        "unsure how a particular data set should be classified or handled, "
        "ask the Security team before you start working with it.",
    ),
    ("h2", "Summary of key controls"),
    (
        "table",
        ["Control", "Requirement", "Applies to"],
        [
            ["Password length", "At least 14 characters", "All accounts"],
            ["Second factor", "Hardware key (YubiKey)", "Administrators"],
            ["Disk encryption", "BitLocker or FileVault", "All laptops"],
            ["Screen lock", "After 5 minutes", "All devices"],
            ["Removable media", "USB storage blocked", "All laptops"],
            ["Public Wi-Fi", "Connect via Tunnel VPN", "All devices"],
        ],
    ),
    (
        "p",
        "Breaches of this policy are handled proportionately. Honest "
        "mistakes that are reported promptly are treated as an opportunity "
        "to learn; deliberate or repeated breaches may lead to disciplinary "
        "action.",
    ),
]


ONBOARDING_BLOCKS: Blocks = [
    ("h1", f"Welcome to {COMPANY}"),
    (
        "p",
        "We are glad you are joining us. This guide walks you through your "
        "first days and weeks at Northwind: where to go on the first "
        "morning, who will help you settle in, what you need to set up, and "
        "a few practical things about pay and working hours. Keep it handy; "
        "most of the questions new joiners ask are answered here.",
    ),
    ("h2", "Before you arrive"),
    (
        "p",
        "A week before your start date you will receive an email with your "
        "company account name and a short list of documents that HR needs, "
        "such as proof of identity and your bank details. Please send them "
        "back before your first day so that your account and pay can be set "
        "up in time. There is nothing else to prepare; the first week is "
        "about meeting people and getting comfortable.",
    ),
    ("h2", "Your first day"),
    ("h3", "Where and when"),
    (
        "p",
        "Your first day starts at 9:30 at reception on the 3rd floor of "
        "Ridgeway House. Take the lifts in the main lobby and tell the "
        "receptionist that you are a new joiner; your manager or buddy will "
        "come and collect you. The building has bicycle storage in the "
        "basement and showers on the ground floor if you cycle in.",
    ),
    ("h3", "Getting set up"),
    (
        "p",
        "You collect your laptop from IT on day one, usually straight after "
        "the welcome coffee. The IT team will help you sign in for the first "
        "time, set up multi-factor authentication on your phone and install "
        "the tools your team uses. Bring your phone and its charger.",
    ),
    ("p", "By the end of the first day you should have:"),
    (
        "ul",
        [
            "a working laptop, company account and building pass;",
            "met your manager, your buddy and the rest of your team;",
            "joined the team chat channels and the company-wide announcements channel;",
            "booked your introduction sessions for the rest of the week.",
        ],
    ),
    ("h2", "Your first weeks"),
    ("h3", "Your buddy"),
    (
        "p",
        "Every new joiner is assigned a buddy for the first 90 days. Your "
        "buddy is an experienced colleague outside your direct reporting "
        "line who can answer the questions you might not want to ask your "
        "manager: how things really work, who to ask about what, and where "
        "the good lunch places are. Plan a short catch-up with your buddy "
        "at least once a week.",
    ),
    ("h3", "Mandatory training"),
    (
        "p",
        "Mandatory security training must be completed within your first 2 "
        "weeks. It takes about an hour and covers phishing, passwords, "
        "device security and how to handle client data. Until the training "
        "is complete, access to some client systems stays disabled. You "
        "will also find short courses on data protection and our code of "
        "conduct in the learning portal.",
    ),
    ("h3", "A typical first week"),
    (
        "table",
        ["Day", "Focus", "With"],
        [
            ["Monday", "Welcome, laptop and accounts", "IT and your buddy"],
            ["Tuesday", "Company introduction and values", "People team"],
            ["Wednesday", "Security training and tools", "Security team"],
            ["Thursday", "Team processes and current projects", "Your manager"],
            ["Friday", "First small task and weekly review", "Your team"],
        ],
    ),
    ("h2", "Probation"),
    (
        "p",
        "The probation period is 6 months. During probation you and your "
        "manager agree on clear goals in the first month and meet for a "
        "formal check-in at the halfway point. Probation is a two-way "
        "process: it is also your chance to tell us whether the role and "
        "the company are what you expected. At the end of the period your "
        "manager confirms your position in writing.",
    ),
    ("h2", "Pay and working hours"),
    ("h3", "Payroll"),
    (
        "p",
        "Salaries are paid on the 25th of each month. If the 25th falls on "
        "a weekend or a public holiday, payment is made on the last working "
        "day before it. Payslips are available in the HR system a few days "
        "before the payment date.",
    ),
    ("h3", "Office hours"),
    (
        "p",
        "We work flexibly, with core hours from 10:00–15:00, when everyone "
        "is expected to be available for meetings and collaboration. "
        "Outside core hours you can arrange your day in the way that suits "
        "you and your team best. Most teams have one or two regular office "
        "days each week; your manager will explain the rhythm of your team.",
    ),
    ("h2", "Around the office"),
    (
        "p",
        "Ridgeway House has a staff kitchen on every floor, with coffee, tea "
        "and fruit provided by the company. Quiet rooms for focused work "
        "and phone calls can be booked through the room booking app, and "
        "the larger meeting rooms are reserved for client meetings during "
        "the morning. Lockers are available for people who do not have a "
        "fixed desk.",
    ),
    (
        "p",
        "Once a month the whole company meets for a town hall, where the "
        "leadership team shares updates and new joiners are introduced. "
        "You do not need to prepare anything: a one-line introduction is "
        "more than enough. Team lunches and social events are announced in "
        "the announcements channel.",
    ),
    ("h2", "Useful policies"),
    (
        "p",
        "Over your first month, please read the other handbook pages, in "
        "particular:",
    ),
    (
        "ul",
        [
            "the travel and expenses policy, before your first business trip;",
            "the leave policy, before you plan your first holiday;",
            "the IT security policy, which the security training builds on.",
        ],
    ),
    ("h2", "Questions"),
    (
        "p",
        "If anything is unclear, or if something is missing on your first "
        "day, send your questions to onboarding@northwind.example and the "
        "People team will get back to you within one working day. Welcome "
        "aboard!",
    ),
]


# ---------------------------------------------------------------------------
# Renderers
# ---------------------------------------------------------------------------


def _fixed_zip_rewrite(data: bytes) -> bytes:
    """Rewrite a zip archive with fixed timestamps and attributes.

    python-docx stamps every zip member with the current time; rewriting the
    archive with constant metadata makes the output byte-for-byte stable.
    """
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            new_info = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            new_info.compress_type = zipfile.ZIP_DEFLATED
            new_info.external_attr = 0o644 << 16
            new_info.create_system = 3
            dst.writestr(new_info, src.read(info.filename))
    return out.getvalue()


def write_pdf(path: Path, blocks: Blocks) -> None:
    """Render ``blocks`` as a multi-page PDF using reportlab platypus."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import cm
    from reportlab.platypus import (
        PageBreak,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        Table,
        TableStyle,
    )

    styles = getSampleStyleSheet()
    body = styles["BodyText"]
    body.fontName = "Helvetica"
    body.fontSize = 10.5
    body.leading = 14
    heading_styles = {"h1": styles["Heading1"], "h2": styles["Heading2"], "h3": styles["Heading3"]}

    story: list = []
    for block in blocks:
        kind = block[0]
        if kind in heading_styles:
            story.append(Paragraph(xml_escape(block[1]), heading_styles[kind]))
        elif kind == "p":
            story.append(Paragraph(xml_escape(block[1]), body))
        elif kind == "ul":
            for item in block[1]:
                story.append(Paragraph(xml_escape(item), body, bulletText="-"))
        elif kind == "table":
            header, rows = block[1], block[2]
            table = Table([header, *rows], hAlign="LEFT", colWidths=[5 * cm, 4.5 * cm, 4.5 * cm])
            table.setStyle(
                TableStyle(
                    [
                        ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
                        ("FONTNAME", (0, 1), (-1, -1), "Helvetica"),
                        ("FONTSIZE", (0, 0), (-1, -1), 10),
                        ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey),
                        ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                        ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ]
                )
            )
            story.append(Spacer(1, 6))
            story.append(table)
            story.append(Spacer(1, 10))
        elif kind == "pagebreak":
            story.append(PageBreak())
        else:  # pragma: no cover - guards against typos in the block lists
            raise ValueError(f"unknown block kind: {kind!r}")

    doc = SimpleDocTemplate(
        str(path),
        pagesize=A4,
        leftMargin=2.2 * cm,
        rightMargin=2.2 * cm,
        topMargin=2.2 * cm,
        bottomMargin=2.2 * cm,
        title=f"{COMPANY} - Travel and Expenses Policy",
        author=COMPANY,
        subject="Employee handbook (fictional sample)",
        creator="Enclave make_sample_corpus.py",
        invariant=1,
    )
    doc.build(story)


def write_docx(path: Path, blocks: Blocks) -> None:
    """Render ``blocks`` as a Word document using python-docx."""
    import docx

    document = docx.Document()
    props = document.core_properties
    props.title = f"{COMPANY} - Leave Policy"
    props.author = COMPANY
    props.last_modified_by = COMPANY
    props.subject = "Employee handbook (fictional sample)"
    props.created = FIXED_DATETIME
    props.modified = FIXED_DATETIME
    props.last_printed = FIXED_DATETIME
    props.revision = 1

    for block in blocks:
        kind = block[0]
        if kind == "title":
            document.add_heading(block[1], level=0)
        elif kind == "h1":
            document.add_heading(block[1], level=1)
        elif kind == "h2":
            document.add_heading(block[1], level=2)
        elif kind == "h3":
            document.add_heading(block[1], level=3)
        elif kind == "p":
            document.add_paragraph(block[1])
        elif kind == "ul":
            for item in block[1]:
                document.add_paragraph(item, style="List Bullet")
        elif kind == "table":
            header, rows = block[1], block[2]
            table = document.add_table(rows=1 + len(rows), cols=len(header))
            table.style = "Table Grid"
            for col, text in enumerate(header):
                cell = table.cell(0, col)
                cell.text = text
                for run in cell.paragraphs[0].runs:
                    run.bold = True
            for r, row in enumerate(rows, start=1):
                for col, text in enumerate(row):
                    table.cell(r, col).text = text
        elif kind == "pagebreak":
            document.add_page_break()
        else:  # pragma: no cover
            raise ValueError(f"unknown block kind: {kind!r}")

    buf = io.BytesIO()
    document.save(buf)
    path.write_bytes(_fixed_zip_rewrite(buf.getvalue()))


def render_html(blocks: Blocks, title: str) -> str:
    """Render ``blocks`` as a standalone HTML5 page."""
    esc = html.escape
    lines = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '  <meta charset="utf-8">',
        '  <meta name="viewport" content="width=device-width, initial-scale=1">',
        f"  <title>{esc(title)}</title>",
        "  <style>",
        "    body { font-family: sans-serif; max-width: 48rem; margin: 2rem auto; line-height: 1.5; }",
        "    table { border-collapse: collapse; }",
        "    th, td { border: 1px solid #999; padding: 0.3rem 0.6rem; text-align: left; }",
        "  </style>",
        "</head>",
        "<body>",
        "<main>",
    ]
    for block in blocks:
        kind = block[0]
        if kind in ("h1", "h2", "h3"):
            lines.append(f"<{kind}>{esc(block[1])}</{kind}>")
        elif kind == "p":
            lines.append(f"<p>{esc(block[1])}</p>")
        elif kind == "ul":
            lines.append("<ul>")
            lines.extend(f"  <li>{esc(item)}</li>" for item in block[1])
            lines.append("</ul>")
        elif kind == "table":
            header, rows = block[1], block[2]
            lines.append("<table>")
            lines.append("  <thead>")
            lines.append("    <tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr>")
            lines.append("  </thead>")
            lines.append("  <tbody>")
            for row in rows:
                lines.append("    <tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>")
            lines.append("  </tbody>")
            lines.append("</table>")
        elif kind == "pagebreak":
            continue
        else:  # pragma: no cover
            raise ValueError(f"unknown block kind: {kind!r}")
    lines += ["</main>", "</body>", "</html>", ""]
    return "\n".join(lines)


def render_markdown(blocks: Blocks) -> str:
    """Render ``blocks`` as CommonMark/GFM Markdown."""
    parts: list[str] = []
    for block in blocks:
        kind = block[0]
        if kind in ("h1", "h2", "h3"):
            level = int(kind[1])
            parts.append(f"{'#' * level} {block[1]}")
        elif kind == "p":
            parts.append(block[1])
        elif kind == "ul":
            parts.append("\n".join(f"- {item}" for item in block[1]))
        elif kind == "table":
            header, rows = block[1], block[2]
            table_lines = [
                "| " + " | ".join(header) + " |",
                "| " + " | ".join("---" for _ in header) + " |",
            ]
            table_lines += ["| " + " | ".join(row) + " |" for row in rows]
            parts.append("\n".join(table_lines))
        elif kind == "pagebreak":
            continue
        else:  # pragma: no cover
            raise ValueError(f"unknown block kind: {kind!r}")
    return "\n\n".join(parts) + "\n"


def _write_text(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)


def write_questions(path: Path) -> None:
    """Write ``QUESTIONS`` to ``path`` as JSON lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_text(path, "".join(json.dumps(q, ensure_ascii=False) + "\n" for q in QUESTIONS))


def generate(out_dir: Path) -> list[Path]:
    """Generate all four documents into ``out_dir``; return the written paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    pdf_path = out_dir / PDF_NAME
    write_pdf(pdf_path, TRAVEL_BLOCKS)
    written.append(pdf_path)

    docx_path = out_dir / DOCX_NAME
    write_docx(docx_path, LEAVE_BLOCKS)
    written.append(docx_path)

    html_path = out_dir / HTML_NAME
    _write_text(html_path, render_html(SECURITY_BLOCKS, f"{COMPANY} IT Security Policy"))
    written.append(html_path)

    md_path = out_dir / MD_NAME
    _write_text(md_path, render_markdown(ONBOARDING_BLOCKS))
    written.append(md_path)

    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        description=(
            "Generate a small fictional employee handbook for 'Northwind "
            "Analytics' (PDF, DOCX, HTML, Markdown) as a sample corpus."
        )
    )
    parser.add_argument(
        "out_dir",
        metavar="OUT_DIR",
        nargs="?",
        default=DEFAULT_OUT_DIR,
        help=f"target folder (default: {DEFAULT_OUT_DIR}); created if missing",
    )
    parser.add_argument(
        "--questions",
        metavar="PATH",
        type=Path,
        default=None,
        help="also write the question/gold-answer pairs to PATH as JSON lines",
    )
    args = parser.parse_args(argv)

    for path in generate(Path(args.out_dir)):
        print(f"wrote {path} ({path.stat().st_size} bytes)")
    if args.questions is not None:
        write_questions(args.questions)
        print(f"wrote {args.questions} ({len(QUESTIONS)} questions)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
