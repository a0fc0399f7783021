"""Material for the demo year: plausible incidents per category (English narratives)."""

STORIES = {
    "interception-surveillance": [
        ("Interception of submarine cable traffic at a foreign landing station",
         "sniffing", "Traffic between the capital and a regional hub was mirrored at a landing "
         "station abroad; latency and TTL changes were observed on the affected routes."),
        ("Rogue base stations near government buildings", "sniffing",
         "IMSI catchers were detected by the national regulator's drive tests."),
        ("Spyware on officials' phones", "infected-system",
         "Forensic analysis found a commercial spyware implant on three devices."),
    ],
    "trust-security": [
        ("DDoS against the national e-government portal", "ddos",
         "A volumetric attack peaked at 480 Gbit/s from a botnet of compromised cameras."),
        ("Phishing campaign impersonating the tax authority", "phishing",
         "SMS and e-mail messages pointed to look-alike domains collecting card data."),
        ("Ransomware at a national hospital network", "system-compromise",
         "Patient records were encrypted; services ran on paper for several days."),
        ("Political spam via SMS before elections", "spam",
         "Several million unsolicited SMS messages were sent from foreign short codes."),
        ("Botnet command-and-control hosted abroad", "c2-server",
         "Infected hosts in the constituency contacted C2 servers in another State."),
        ("Brute-force attacks on ministry VPN gateways", "brute-force",
         "Credential stuffing from a few hosting providers, about 2 million attempts per day."),
    ],
    "routing-disruption": [
        ("Origin hijack of the national operator's prefixes", "outage",
         "A foreign AS announced the operator's /19; traffic was black-holed for two hours."),
        ("Route leak through a transit provider", "misconfiguration",
         "A customer's full table was leaked to a tier-1, diverting national traffic."),
        ("Sub-prefix hijack of the central bank's address space", "outage",
         "More specific /24 announcements attracted traffic towards an unknown network."),
    ],
    "access-denial": [
        ("Cloud platform blocks all addresses of the country", "outage",
         "The provider's CDN answers HTTP 403 with a country block page to every national "
         "vantage point while a control abroad reaches the site."),
        ("Software repository refuses downloads under export rules", "outage",
         "Developers receive an export-control page when pulling public packages."),
        ("Online learning platform geoblocks the State", "outage",
         "Students cannot reach public courses; the service cites sanctions."),
    ],
    "other": [
        ("Undetermined outage of the national DNS resolvers", "undetermined",
         "Resolution failures for 40 minutes; root cause under investigation."),
    ],
}

SERVICES = ["fixed internet", "mobile internet", "fixed telephony", "mobile telephony",
            "e-government portal", "banking", "e-mail", "DNS", "software updates"]

# Campaigns that hit several States: the reports of one campaign share a sample's SHA-256 and
# an invented command-and-control domain, so that the correlation finds small clusters.
CAMPAIGNS = [
    ("trust-security", "Ransomware campaign against health ministries", "system-compromise",
     "The same ransomware sample encrypted hospital servers; it called back to a "
     "command-and-control domain registered days before."),
    ("trust-security", "Banking trojan spread through fake tax notices", "phishing",
     "E-mails with a tax-notice attachment installed a banking trojan; the sample and its "
     "command-and-control domain were shared with the Secretariat."),
    ("trust-security", "Botnet command-and-control hosted abroad", "c2-server",
     "Infected routers in the constituency contacted the same command-and-control domain."),
    ("interception-surveillance", "Spyware on officials' phones", "infected-system",
     "Forensic analysis found the same implant on devices of several ministries; it beaconed "
     "to a look-alike update domain."),
    ("trust-security", "Wiper malware at energy operators", "system-compromise",
     "A wiper disguised as a software update erased workstations at two operators."),
]
# Parts of the invented command-and-control domains (none is a real service).
DOMAIN_WORDS = ["update", "sync", "cdn", "cloud", "secure", "verify", "portal", "static",
                "mirror", "relay", "node", "metrics", "patch", "telemetry"]
DOMAIN_TLDS = ["info", "top", "xyz", "online", "site", "biz"]
