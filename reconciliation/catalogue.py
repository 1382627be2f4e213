"""The rule catalogue: every rule's stable code, severity, sentence, next action and source.

Codes follow the Dutch Electoral Council's Abacus where a rule has an Abacus
counterpart (F.2xx totals, W.2xx plausibility) and keep the letter of the
severity: ``F`` error, ``W`` warning, ``I`` info. Series: ``0xx`` single
values, ``2xx`` totals of one PV, ``3xx`` pen against paper, ``4xx`` the
station's batch chain and transmission, ``5xx`` the pen's stroke timeline,
``6xx`` statistics across stations. A code,
once published, keeps its meaning; a retired rule's code is not reused.

docs/reconciliation-rules.md is generated from :data:`RULES` by
:func:`render_markdown` (see :data:`REGENERATE`) and a test
keeps them equal.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from pen.errors import FormError
from pen.forms import load_form
from reconciliation.findings import Evidence, Finding, ReconciliationError, Severity

ABACUS = (
    "Kiesraad Abacus, validation rules and plausibility checks "
    "(documentatie/use-cases/validatieregels-plausibiliteitschecks-tellingen.md)"
)
L65 = "Code électoral, art. L65 (count of envelopes against signatures, noted in the PV)"
CHARTER = "Primaire citoyenne 2011, rules of the Haute autorité (€1 participation per voter)"
#: The shell command that rewrites docs/reconciliation-rules.md.
REGENERATE = (
    "python -c 'import reconciliation as r; print(r.render_markdown(), end=\"\")' "
    "> docs/reconciliation-rules.md"
)
PLUME = "Plume (digital-pen minutes: the digital copy exists the moment it is written)"
PROTOCOL = (
    "Plume station protocol (docs/station-protocol.md): signed batches in one hash chain "
    "per station; the closing code binds the paper PV to the chain's head"
)
IGLEWICZ = (
    "Iglewicz and Hoaglin, How to Detect and Handle Outliers (ASQC, 1993): modified z-score "
    "0.6745 (x - median) / MAD, outlier above 3.5"
)
KLIMEK = (
    "Klimek, Yegorov, Hanel and Thurner, Statistical detection of systematic election "
    "irregularities, PNAS 109(41):16469-16473 (2012)"
)
BEBER = (
    "Beber and Scacco, What the numbers say: a digit-based test for election fraud, "
    "Political Analysis 20(2):211-234 (2012)"
)


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule of the catalogue."""

    code: str
    severity: Severity
    title: str
    template: str
    """The finding's sentence, with ``{placeholders}`` filled by the rule."""
    action: str
    source: str

    def finding(
        self, station_id: str, fields: Iterable[str], evidence: Evidence, **values: object
    ) -> Finding:
        try:
            message = self.template.format(**values)
        except (KeyError, IndexError) as exc:
            raise ReconciliationError(f"rule {self.code}: no value for {exc}") from None
        return Finding(
            self.code, self.severity, station_id, tuple(fields), message, self.action, evidence
        )


_RULES = (
    Rule(
        "F.001",
        Severity.ERROR,
        "Negative count",
        "«{label}» ({field}) is {value}: a count cannot be negative.",
        "Read the field again on the pen ink and the paper; correct the reading.",
        PLUME,
    ),
    Rule(
        "F.002",
        Severity.ERROR,
        "Count beyond what a station can hold",
        "«{label}» ({field}) is {value}, more than a station can hold ({limit}).",
        "Read the field again (an extra digit?); if the paper says so too, ask the station.",
        PLUME,
    ),
    Rule(
        "F.003",
        Severity.ERROR,
        "Closing time is not a time",
        "«{label}» (closing_time) reads {value!r}, which is not a time HHMM.",
        "Read the field again on the pen ink and the paper.",
        PLUME,
    ),
    Rule(
        "W.010",
        Severity.WARNING,
        "Value not read",
        "«{label}» ({field}) could not be read, so the rules that use it were not checked.",
        "Read the field by hand from the pen ink or the paper scan and enter it in review.",
        PLUME,
    ),
    Rule(
        "F.202",
        Severity.ERROR,
        "Candidates' votes do not add up to valid votes",
        "The candidates' votes add up to {total}, but «{label}» (valid) is {valid} "
        "(difference {difference:+d}).",
        "Check each candidate's count against the paper; if the paper is wrong too, "
        "the station recounts or explains the difference in its observations.",
        f"{ABACUS}, F.202; {L65}",
    ),
    Rule(
        "F.203",
        Severity.ERROR,
        "Blank + spoiled + valid is not the number of ballots",
        "Blank {blank} + spoiled {spoiled} + valid {valid} = {total}, but «{label}» "
        "(ballots) is {ballots} (difference {difference:+d}).",
        "Check the four counts against the paper; if the paper is wrong too, "
        "the station recounts or explains the difference.",
        f"{ABACUS}, F.203; {L65}",
    ),
    Rule(
        "F.204",
        Severity.ERROR,
        "More ballots than signatures",
        "{ballots} ballots were found in the box but only {signatures} voters signed "
        "the list: {excess} ballot(s) too many.",
        "Treat as possible ballot stuffing: compare with the paper and the sign-in list, "
        "and refer the station to the high authority.",
        f"{L65}; {ABACUS}, W.203 (the Dutch rule warns either way)",
    ),
    Rule(
        "W.201",
        Severity.WARNING,
        "Many blank ballots",
        "{blank} blank ballots are {percent:.1f}% of {ballots} ballots (threshold {limit:.0f}%).",
        "Check «Bulletins blancs» against the paper; the station explains the number.",
        f"{ABACUS}, W.201",
    ),
    Rule(
        "W.202",
        Severity.WARNING,
        "Many spoiled ballots",
        "{spoiled} spoiled ballots are {percent:.1f}% of {ballots} ballots "
        "(threshold {limit:.0f}%).",
        "Check «Bulletins nuls» against the paper; the station explains the number.",
        f"{ABACUS}, W.202",
    ),
    Rule(
        "W.203",
        Severity.WARNING,
        "Many fewer ballots than signatures",
        "{ballots} ballots for {signatures} signatures: {missing} ballots missing "
        "({percent:.1f}%).",
        "Compare with the paper and the sign-in list; the station explains where the ballots went.",
        f"{ABACUS}, W.203; {L65}",
    ),
    Rule(
        "W.204",
        Severity.WARNING,
        "No ballots",
        "«{label}» (ballots) is 0: nobody voted at this station.",
        "Check that the station was open; if so, confirm with its president.",
        f"{ABACUS}, W.204",
    ),
    Rule(
        "W.205",
        Severity.WARNING,
        "Contributions do not match voters",
        "{contributions} €1 contributions for {signatures} signatures "
        "(difference {difference:+d}).",
        "Compare with the paper and the cash count; the station explains the difference.",
        CHARTER,
    ),
    Rule(
        "F.301",
        Severity.ERROR,
        "The paper PV says another value than the pen wrote",
        "«{label}» ({field}): the paper says {paper}; the pen wrote {pen}{at} "
        "(reading confidence {confidence:.0f}%).",
        "Compare the field's ink with the paper crop: a paper changed after the count is "
        "referred to the high authority; a misreading is corrected in review.",
        f"{PLUME}; {L65}",
    ),
    Rule(
        "W.302",
        Severity.WARNING,
        "The paper PV may say another value than the pen wrote",
        "«{label}» ({field}): the paper seems to say {paper} (reading confidence "
        "{confidence:.0f}%{why}); the pen wrote {pen}{at}.",
        "Read the paper crop by hand and enter what it says in review.",
        PLUME,
    ),
    Rule(
        "F.401",
        Severity.ERROR,
        "Gap in the station's stored chain",
        "The stored chain ends at batch {head} but lacks {count} batch(es): {seqs}.",
        "Compare with the station's journal (plume agent export); the missing batches "
        "may hold ink of the PV. Refer to the high authority until explained.",
        PROTOCOL,
    ),
    Rule(
        "F.402",
        Severity.ERROR,
        "Fork in the station's stored chain",
        "{count} stored batch(es) do not follow from the batch before: {seqs}.",
        "The chain should be one line of batches: compare the stored bodies with the "
        "station's journal; two devices may have written as the station.",
        PROTOCOL,
    ),
    Rule(
        "F.403",
        Severity.ERROR,
        "Batches rejected as a fork of the chain",
        "{count} batch(es) were rejected because they fork the station's chain "
        "(sequence numbers {seqs}; first at {first}, last at {last}).",
        "A second device may be sending as this station, or its journal was restored from "
        "an old copy: compare the rejected bodies (kept as evidence) with the stored chain.",
        PROTOCOL,
    ),
    Rule(
        "F.404",
        Severity.ERROR,
        "Batches rejected for a bad signature",
        "{count} batch(es) for this station were rejected because their signature is not "
        "the station's key (sequence numbers {seqs}; first at {first}, last at {last}).",
        "Treat as an attempt to write in the station's name: keep the rejected bodies and "
        "refer to the high authority.",
        PROTOCOL,
    ),
    Rule(
        "W.405",
        Severity.WARNING,
        "Batches rejected as replays",
        "{count} batch(es) already stored were sent again, out of turn, and rejected as "
        "replays (sequence numbers {seqs}; first at {first}, last at {last}).",
        "Nothing was stored twice. An agent restored from an old journal does this, and so "
        "does someone replaying captured batches: check the station's agent if it goes on.",
        PROTOCOL,
    ),
    Rule(
        "W.406",
        Severity.WARNING,
        "Batches rejected for a gap that was never filled",
        "{count} batch(es) were rejected because batches before them were missing, and the "
        "stored chain never reached them (sequence numbers {seqs}; stored head {head}).",
        "Ask the station to send its journal again (the agent resends missing batches "
        "first); ink in them is not in the results.",
        PROTOCOL,
    ),
    Rule(
        "I.407",
        Severity.INFO,
        "Batches rejected for a gap, later filled",
        "{count} batch(es) were rejected because batches before them were missing; the "
        "station sent the missing ones and the chain now holds them (sequence numbers {seqs}).",
        "Nothing to resolve: the agent recovered as designed.",
        PROTOCOL,
    ),
    Rule(
        "W.408",
        Severity.WARNING,
        "Batches rejected for other reasons",
        "{count} batch(es) for this station were rejected: {reasons}.",
        "Read the stored rejections (each keeps its body and sentence); a station that keeps "
        "sending bad batches needs its agent checked.",
        PROTOCOL,
    ),
    Rule(
        "F.409",
        Severity.ERROR,
        "Closing code on the paper PV does not match the chain",
        "The paper PV's closing code reads {paper}; the chain's head at the close gives "
        "{expected}{other}.",
        "Read the code on the paper again; if it is right, the paper does not belong to the "
        "chain the centre holds (batches added or removed after the close?): refer to the "
        "high authority.",
        PROTOCOL,
    ),
    Rule(
        "F.410",
        Severity.ERROR,
        "No PV at the results deadline",
        "No PV of this station had been read at the results deadline {deadline} "
        "({batches} batch(es) received).",
        "Call the station; collect the paper PV and enter it by hand if the pen's copy "
        "never comes.",
        PLUME,
    ),
    Rule(
        "F.411",
        Severity.ERROR,
        "PV incomplete at the results deadline",
        "The station's PV was incomplete at the results deadline {deadline}: {missing}.",
        "Read the missing fields by hand from the ink or the paper PV in review.",
        PLUME,
    ),
    Rule(
        "W.412",
        Severity.WARNING,
        "Station never closed",
        "The station had not closed by the results deadline {deadline} "
        "(last batch received at {last}).",
        "Call the station: its president closes it on the agent, which sends the last "
        "batches and shows the closing code.",
        PROTOCOL,
    ),
    Rule(
        "W.501",
        Severity.WARNING,
        "Count written long after the other counts",
        "«{label}» ({field}) has {count} stroke(s) written at {when}, {minutes:.0f} min "
        "after the PV's counts were written (median {median}).",
        "Compare the field's ink with the paper scan; ask the station why it was written later.",
        PLUME,
    ),
    Rule(
        "F.502",
        Severity.ERROR,
        "Count written after the president signed",
        "«{label}» ({field}) has {count} stroke(s) written at {when}, after the "
        "president signed at {signed}.",
        "Compare the field's ink with the paper scan; a change after signing needs the "
        "high authority's review.",
        PLUME,
    ),
    Rule(
        "F.503",
        Severity.ERROR,
        "Count written after the count had to be closed",
        "«{label}» ({field}) has {count} stroke(s) written at {when}, more than "
        "{grace_h:g} h after the poll closed at {closing}.",
        "Compare the field's ink with the paper scan; refer the station to the high authority.",
        PLUME,
    ),
    Rule(
        "W.504",
        Severity.WARNING,
        "Count written over (ink on ink)",
        "«{label}» ({field}): {count} stroke(s) at {when} were written over earlier ink "
        "of the same cell after a pause of {pause_s:.0f} s.",
        "Look at the field's ink stroke by stroke and at the paper scan: read what was "
        "written first and what replaced it.",
        PLUME,
    ),
    Rule(
        "F.505",
        Severity.ERROR,
        "Written by a pen not issued to this station",
        "«{label}» ({field}) has {count} stroke(s) from pen(s) {pens}, not issued to this station.",
        "Find where the pen was issued; treat the page as written outside the station "
        "until explained.",
        PLUME,
    ),
    Rule(
        "F.508",
        Severity.ERROR,
        "Written on a sheet not issued to this station",
        "«{label}» ({field}) has {count} stroke(s) on page(s) {pages}, not issued to this station.",
        "Find which station the sheet was issued to; the PV pages may have been swapped.",
        PLUME,
    ),
    Rule(
        "W.506",
        Severity.WARNING,
        "Impossible timestamps (pen clock)",
        "«{label}» ({field}) has {count} stroke(s) dated {when}, which cannot be right "
        "(pen clock reset?); timing rules skipped them.",
        "Check the pen's clock in its status log; judge the field's timing by hand.",
        PLUME,
    ),
    Rule(
        "W.507",
        Severity.WARNING,
        "Count written before the poll closed",
        "«{label}» ({field}) has {count} stroke(s) written at {when}, before the poll "
        "closed at {closing}.",
        "Check the pen's clock; if it was right, the count was written before counting.",
        PLUME,
    ),
    Rule(
        "W.601",
        Severity.WARNING,
        "Turnout unlike the département's other stations",
        "Turnout {percent:.1f}% against a median of {median:.1f}% over the {n} stations of "
        "département {departement} (modified z {z:+.1f}, threshold {threshold:g}).",
        "Check the ballots and the roll size against the paper and the sign-in list; "
        "a flag for a person, not a verdict.",
        IGLEWICZ,
    ),
    Rule(
        "W.602",
        Severity.WARNING,
        "Vote share unlike the département's other stations",
        "«{label}» ({field}) has {percent:.1f}% of valid votes against {pooled:.1f}% over the "
        "{n} stations of département {departement} (z {z:+.1f} counting sampling and "
        "between-station spread, threshold {threshold:g}).",
        "Check the candidate's count against the paper; look for a local reason "
        "(a candidate's home town); a flag for a person, not a verdict.",
        f"{IGLEWICZ}, with a quasi-binomial variance (sampling + between-station spread)",
    ),
    Rule(
        "W.603",
        Severity.WARNING,
        "Station in the fingerprint's 100%/100% corner",
        "Turnout {turnout:.1f}% and {share:.1f}% of valid votes for «{label}», the winner: "
        "both at least {threshold:g}%.",
        "Compare the counts with the paper and the sign-in list; ask the station how "
        "nearly every registered voter came and voted alike.",
        f"{KLIMEK}: extreme fraud piles stations into the 100%/100% corner",
    ),
    Rule(
        "W.604",
        Severity.WARNING,
        "Too many stations with both high turnout and high winner's share",
        "In {area}, {k} of {n} stations have both turnout and winner's share far above their "
        "département's (expected {expected:.2f} if the two were independent; "
        "p = {p:.2g} after Holm correction over {areas} areas).",
        "Look at the listed stations' PVs, papers and sign-in lists; the fingerprint chart "
        "of the report shows the area's shape. A flag for a person, not a verdict.",
        f"{KLIMEK}: ballot stuffing smears the fingerprint towards high turnout and share",
    ),
    Rule(
        "W.605",
        Severity.WARNING,
        "Last digits of the département's counts are not uniform",
        "The last digits of {n} candidate counts in département {departement} are uneven "
        "(chi-square {chi2:.1f}, 9 df, p = {p:.2g} after Holm correction over {tested} "
        "départements; mean last digit 95% interval {low:.2f}-{high:.2f}, 4.5 expected).",
        "Look at which digits are over-represented and at which stations' counts end in them; "
        "the test is weak on small counts and few stations. A flag, not a verdict.",
        BEBER,
    ),
    Rule(
        "W.606",
        Severity.WARNING,
        "Too many counts ending in 0 or 5",
        "{percent:.1f}% of {n} candidate counts in département {departement} end in 0 or 5 "
        "(20% expected; 95% interval {low:.1f}-{high:.1f}%; p = {p:.2g} after Holm "
        "correction over {tested} départements).",
        "Look at the stations whose counts are round: were the counts made up or estimated? "
        "A flag, not a verdict.",
        f"{BEBER}; round-number preference",
    ),
    Rule(
        "W.607",
        Severity.WARNING,
        "Winner's share rises with turnout",
        "In {area}, the winner's share rises with turnout across {n} stations (Spearman "
        "rho {rho:+.2f}; p = {p:.2g} after Holm correction over {areas} areas).",
        "Look at the area's fingerprint chart and its highest-turnout stations; an honest "
        "local pattern can cause this too. A flag for a person, not a verdict.",
        f"{KLIMEK}: incremental stuffing makes the fingerprint rise to the upper right",
    ),
    Rule(
        "W.608",
        Severity.WARNING,
        "Turnout changed between rounds unlike the département's other stations",
        "Turnout went from {before:.1f}% to {now:.1f}% between the rounds, against a median "
        "change of {median:+.1f} points over {n} stations of département {departement} "
        "(modified z {z:+.1f}, threshold {threshold:g}).",
        "Compare both rounds' PVs and sign-in lists for this station; a flag for a person, "
        "not a verdict.",
        f"{IGLEWICZ}, on the change in turnout between rounds",
    ),
)

#: Every rule, by code.
RULES: dict[str, Rule] = {r.code: r for r in _RULES}


def rule(code: str) -> Rule:
    try:
        return RULES[code]
    except KeyError:
        raise ReconciliationError(f"no rule {code!r} in the catalogue") from None


@lru_cache(maxsize=64)
def field_label(field_id: str) -> str:
    """The field's printed French label on the PV (form pv v1), or its id if unknown."""
    try:
        return load_form("pv", 1).field(field_id).label
    except FormError:
        return field_id


def render_markdown() -> str:
    """docs/reconciliation-rules.md, generated from :data:`RULES`."""
    lines = [
        "# Reconciliation rules",
        "",
        "Generated from `reconciliation/catalogue.py`; regenerate with",
        "",
        f"    {REGENERATE}",
        "",
        "A test fails when the two differ. Do not edit by hand.",
        "",
        "Codes: `F` error (the minutes cannot be right as they stand), `W` warning (the",
        "station must explain it), `I` info. Series: `0xx` single values, `2xx` totals of",
        "one PV (numbered as in the Dutch Electoral Council's Abacus where a rule has a",
        "counterpart), `3xx` pen against paper, `4xx` the station's batch chain and",
        "transmission, `5xx` the pen's stroke timeline, `6xx` statistics across stations",
        "(flags for a person, never verdicts; an area-level finding names its area,",
        "`departement:<code>` or `national`, where others name a station). Thresholds are",
        "in `reconciliation/config.py`; sentences name fields by their printed French label.",
        "",
        "| code | severity | rule |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {r.code} | {r.severity.value} | {r.title} |" for r in _RULES]
    for r in _RULES:
        lines += [
            "",
            f"## {r.code}: {r.title}",
            "",
            f"- Severity: {r.severity.value}",
            f"- Sentence: {r.template}",
            f"- Next: {r.action}",
            f"- Source: {r.source}",
        ]
    return "\n".join(lines) + "\n"
