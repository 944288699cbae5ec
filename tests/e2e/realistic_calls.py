#!/usr/bin/env python3
"""Realistic, varied Vapi calls for the end-to-end tests (tests/e2e/realistic_calls_test.cpp).

  realistic_calls.py gen SEED CALLS OUT_DIR    writes OUT_DIR/plan.json: the calls, each with its
                                               messages as raw bodies (and the redelivered variants
                                               of a message) and the facts they state
  realistic_calls.py conform SEED OUT_DIR      writes clean bodies NNNN-TYPE.json that must pass
                                               shared/vapi/check-conformance.sh
  realistic_calls.py check OUT_DIR             compares the dumps the test wrote (calls.json,
                                               messages.json, export-<id>.ndjson) with the plan;
                                               prints every difference, exits 1 on any

What the calls cover (spec.md field shapes): inbound/outbound phone calls (twilio, vonage, telnyx,
vapi numbers), web calls (daily, no phoneNumber/customer) and websocket calls; assistants,
workflows (artifact.nodes) and squads (assistant.started, transfer-update handoffs, bot items with
assistantName); transfers (status-update forwarding + destination, transfer-update, phone-call-
control); several tool calls per turn, tool-calls without a `type`, function-call, hang,
user-interrupted, language-changed / language-change-detected, model-output (several tokens in
the same millisecond), voice-input, assistant.speechStarted, `transcript[transcriptType="final"]`
type names, partial transcripts, speech-updates, conversation-update with messagesOpenAIFormatted
and with/without artifact; an end-of-call report whose presigned URLs (and timestamp) change on
redelivery, arriving before or after status-update ended; calls ending without a report
(customer-did-not-answer, customer-busy); unknown future types; messages without timestamp;
unicode (emoji, RTL, U+0000, escaped slashes); numbers 1e3, -0, 1.5E-7, big integers; duplicate
keys; shuffled key order; deep nesting; nulls where objects usually are.
"""
import json
import os
import random
import sys
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.environ.get("SWITCHBOARD_EXAMPLES_DIR",
                          os.path.join(HERE, "..", "..", "..", "shared", "vapi", "examples"))

STATUS_RANK = {"scheduled": 1, "queued": 2, "ringing": 3, "in-progress": 4, "forwarding": 5,
               "ended": 6, "not-found": 6}

USER_LINES = [
    "Hi, I'd like to book a cleaning for next Tuesday.",
    "Can you do 3 pm? 🙂",
    "מה השעות שלכם ביום שישי?",
    "هل يمكنني تغيير الموعد؟",
    "Ça marche, merci beaucoup !",
    "My number is +1 (555) 010-2233, and the URL is https://example.com/a/b?c=d",
    "Quote: \"tab\there\" and a backslash \\ and a slash /",
    "nul\u0000byte in the middle",
    "日本語のテキストも大丈夫ですか？",
    "👨‍👩‍👧‍👦 family appointment please",
]
BOT_LINES = [
    "Thanks for calling Maple Street Dental, this is Riley. How can I help?",
    "Sure, let me check the schedule for you.",
    "We have 3 pm available on Tuesday. Shall I book it?",
    "Done! You'll get a confirmation text shortly. 🦷",
    "Je peux vous aider en français aussi.",
    "Is there anything else I can help you with?",
]


def load_example(name):
    with open(os.path.join(EXAMPLES, name), encoding="utf-8") as f:
        return json.load(f)["message"]


def iso(ms):
    import datetime
    t = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ms % 1000)


class Call:
    def __init__(self, rng, index, seed, conformant=False):
        self.rng = rng
        self.conformant = conformant
        self.id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        self.org = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        self.kind = rng.choice(["inbound", "outbound", "web", "websocket", "inbound", "outbound"])
        self.mode = rng.choice(["assistant", "assistant", "workflow", "squad"])
        self.provider = rng.choice(["twilio", "vonage", "telnyx", "vapi"])
        # Around now (the service keeps monthly partitions around the current month), but also
        # some far in the past (the default partition).
        base = 1_764_547_200_000 + rng.randrange(0, 20 * 86400) * 1000
        if rng.random() < 0.1:
            base = 1_600_000_000_000 + rng.randrange(0, 86400) * 1000
        self.t = base + rng.randrange(1000)
        self.start_ms = None
        self.messages = []        # {"body": raw, "variants": [raw...], "ts": int|None, ...}
        self.conversation = []    # artifact message items so far
        self.openai = []
        self.transcript_log = ""
        self.status = "queued"
        self.call_extra = {}
        ex = load_example("12-end-of-call-report.json")
        self.assistant = ex["assistant"]
        self.assistant_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        self.workflow_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        self.squad_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        self.phone_number_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        self.vapi_number = "+1415555%04d" % rng.randrange(10000)
        self.customer_number = "+3361234%04d" % rng.randrange(10000)
        self.created_ms = self.t
        self.seed = seed
        self.index = index

    # ---- the repeated objects -------------------------------------------------------------
    def phone(self):
        return self.kind in ("inbound", "outbound")

    def call_object(self, **extra):
        c = {"id": self.id, "orgId": self.org, "createdAt": iso(self.created_ms),
             "updatedAt": iso(self.t),
             "type": {"inbound": "inboundPhoneCall", "outbound": "outboundPhoneCall",
                      "web": "webCall", "websocket": "vapi.websocketCall"}[self.kind],
             "status": self.status}
        if self.phone():
            c["phoneCallProvider"] = self.provider
            c["phoneCallTransport"] = "pstn" if self.provider != "vapi" else "sip"
            c["phoneCallProviderId"] = "CA" + "%032x" % self.rng.getrandbits(128)
            c["phoneNumberId"] = self.phone_number_id
            c["customer"] = {"number": self.customer_number}
            if self.provider == "twilio":
                c["transport"] = {"provider": "twilio", "accountSid": "AC123", "callSid": "CA1"}
            elif self.provider == "vapi":
                c["transport"] = {"provider": "vapi.sip", "sbcCallSid": "x", "callSid": "y"}
        elif self.kind == "web":
            c["transport"] = {"provider": "daily", "callUrl": "https://vapi.daily.co/" + self.id[:8],
                              "conversationType": "voice"}
            if not self.conformant:  # legacy field, not in the SDK's Call type
                c["webCallUrl"] = "https://vapi.daily.co/" + self.id[:8]
        else:
            c["transport"] = {"provider": "vapi.websocket"}
        if self.mode == "assistant":
            c["assistantId"] = self.assistant_id
        elif self.mode == "workflow":
            c["workflowId"] = self.workflow_id
        else:
            c["squadId"] = self.squad_id
        if self.start_ms is not None:
            c["startedAt"] = iso(self.start_ms)
        c.update(self.call_extra)
        c.update(extra)
        return c

    def envelope(self, type_, ts, fields, with_assistant=True, no_type=False):
        m = {}
        if not no_type:
            m["type"] = type_
        if ts is not None:
            m["timestamp"] = ts
        m.update(fields)
        m["call"] = self.call_object()
        if with_assistant and self.mode == "assistant":
            m["assistant"] = self.assistant
        if self.phone():
            if self.provider == "vapi":
                m["phoneNumber"] = {"provider": "vapi", "name": "Main line"}
            else:
                m["phoneNumber"] = {"provider": self.provider, "number": self.vapi_number,
                                    "name": "Front desk"}
                if self.provider == "twilio":
                    m["phoneNumber"]["twilioAccountSid"] = "AC123"
                else:
                    m["phoneNumber"]["credentialId"] = "cred-" + self.id[:4]
            m["customer"] = {"number": self.customer_number}
        elif not self.conformant and self.rng.random() < 0.3:
            m["customer"] = None  # null where an object usually is
        return m

    def tick(self, lo=40, hi=900):
        self.t += self.rng.randrange(lo, hi)
        return self.t

    def add(self, type_, fields, ts="tick", raw_tweak=None, variants=None, **kw):
        if ts == "tick":
            ts = self.tick()
        m = self.envelope(type_, ts, fields, **kw)
        m = self.shuffle_keys(m)
        ascii_ = self.rng.random() < 0.5
        if getattr(self, "fixed_ascii", None) is not None:
            ascii_ = self.fixed_ascii  # a redelivery is written like the original
        body = json.dumps({"message": m}, ensure_ascii=ascii_)
        if raw_tweak:
            body = raw_tweak(body)
        self.messages.append({"body": body, "variants": variants or [], "ts": ts,
                              "type": type_})
        return m

    def shuffle_keys(self, m):
        if self.conformant or self.rng.random() < 0.6:
            return m
        items = list(m.items())
        self.rng.shuffle(items)
        return dict(items)

    # ---- conversation items ---------------------------------------------------------------
    def item(self, role, text, at, dur, **extra):
        it = {"role": role, "message": text, "time": at, "endTime": at + dur,
              "secondsFromStart": round((at - self.start_ms) / 1000.0, 3), "duration": dur}
        it.update(extra)
        self.conversation.append(it)
        self.openai.append({"role": "assistant" if role == "bot" else "user", "content": text})
        self.transcript_log += ("AI: " if role == "bot" else "User: ") + text + "\n"

    def conversation_update(self, with_artifact):
        f = {"messages": list(self.conversation), "messagesOpenAIFormatted": list(self.openai)}
        if with_artifact:
            f["artifact"] = {"messages": list(self.conversation),
                             "messagesOpenAIFormatted": list(self.openai)}
        self.add("conversation-update", f)

    # ---- the call -------------------------------------------------------------------------
    def script(self):
        rng = self.rng
        nf = not self.conformant
        if self.kind == "inbound" and rng.random() < 0.5:
            self.add("assistant-request", {})
        self.add("status-update", {"status": "queued"})
        if self.phone():
            self.status = "ringing"
            self.add("status-update", {"status": "ringing"})
        outcome = rng.random()
        if self.phone() and outcome < 0.15:
            # Ends before anyone answers: no report (customer-did-not-answer / busy).
            reason = rng.choice(["customer-did-not-answer", "customer-busy"])
            self.status = "ended"
            self.call_extra = {"endedReason": reason, "endedAt": iso(self.t + 30000)}
            self.ended_reason = reason
            self.ended_at = self.t + 30000
            self.add("status-update", {"status": "ended", "endedReason": reason}, ts=self.t + 30001)
            self.has_report = False
            return
        self.start_ms = self.tick()
        self.status = "in-progress"
        self.add("status-update", {"status": "in-progress"})
        if self.mode == "squad" or (nf and rng.random() < 0.3):
            self.add("assistant.started", {"newAssistant": {"name": "Riley", "firstMessage": "Hi!"}})
        system = "You are Riley, the scheduling assistant. Use the tools. 🗓"
        self.conversation.append({"role": "system", "message": system, "time": self.start_ms,
                                  "secondsFromStart": 0})
        self.openai.append({"role": "system", "content": system})
        turns = rng.randrange(2, 7)
        final_type = "transcript[transcriptType=\"final\"]" if rng.random() < 0.3 else "transcript"
        tool_no = 0
        for turn in range(turns):
            bot = BOT_LINES[(turn + self.index) % len(BOT_LINES)]
            user = rng.choice(USER_LINES) if nf else USER_LINES[turn % 2]
            self.add("speech-update", {"status": "started", "role": "assistant", "turn": turn})
            if nf and rng.random() < 0.5:
                ts = self.tick()
                for tok in ["Sure", ",", " let", " me"]:  # several tokens in one millisecond
                    self.add("model-output", {"output": tok, "turnId": "turn-%d" % turn}, ts=ts)
                self.add("voice-input", {"input": bot})
            if nf and rng.random() < 0.4:
                self.add("assistant.speechStarted", {"text": bot, "turn": turn, "source": "model"})
            t_bot = self.tick()
            self.add("speech-update", {"status": "stopped", "role": "assistant", "turn": turn})
            self.item("bot", bot, t_bot, 2400,
                      **({"assistantName": "Riley"} if self.mode == "squad" else {}))
            if nf and rng.random() < 0.2:
                self.add("user-interrupted", {"turnId": "turn-%d" % turn})
            self.add("speech-update", {"status": "started", "role": "user", "turn": turn})
            for k in range(rng.randrange(1, 4)):
                self.add("transcript", {"role": "user", "transcriptType": "partial",
                                        "transcript": user[: max(1, len(user) * (k + 1) // 4)]})
            if final_type == "transcript" or not nf:
                self.add("transcript", {"role": "user", "transcriptType": "final",
                                        "transcript": user})
            else:
                self.add(final_type, {"role": "user", "transcriptType": "final",
                                      "transcript": user})
            if rng.random() < 0.3:  # custom endpointing: asked on every new transcript
                self.add("call.endpointing.request",
                         {"messages": list(self.conversation),
                          "messagesOpenAIFormatted": list(self.openai)})
            t_user = self.tick()
            self.add("speech-update", {"status": "stopped", "role": "user", "turn": turn})
            self.item("user", user, t_user, 1800)
            self.conversation_update(with_artifact=nf and rng.random() < 0.3)
            if rng.random() < 0.2:  # a custom knowledge base
                self.add("knowledge-base-request",
                         {"messages": list(self.conversation),
                          "messagesOpenAIFormatted": list(self.openai)})
            if rng.random() < 0.5:
                self.tool_turn(turn, tool_no)
                tool_no += 1
            if nf and rng.random() < 0.15:
                self.add("hang", {})
            if nf and rng.random() < 0.15:
                self.add("language-changed" if rng.random() < 0.5 else "language-change-detected",
                         {"language": rng.choice(["fr", "he", "ar", "en"])})
            if nf and rng.random() < 0.1:
                self.add("function-call", {"functionCall": {"name": "lookup", "parameters":
                                                            {"q": user}}})
        if nf:
            self.extras()
        transferred = self.phone() and rng.random() < 0.3
        self.destination = None
        if transferred:
            self.add("transfer-destination-request", {})
            dest = {"type": "number", "number": "+14155550199", "message": "Transferring you now"}
            if rng.random() < 0.5:
                self.add("phone-call-control", {"request": "forward", "destination": dest})
            self.add("transfer-update", {"destination": dest})
            self.status = "forwarding"
            self.add("status-update", {"status": "forwarding", "destination": dest})
            self.destination = dest
        elif self.mode == "squad":
            self.add("handoff-destination-request", {"parameters": {"destination": "Billing"}})
            self.add("transfer-update", {"destination": {"type": "assistant",
                                                         "assistantName": "Billing"},
                                         "toAssistant": {"name": "Billing"},
                                         "fromAssistant": {"name": "Riley"}})
        self.end(transferred)

    def tool_turn(self, turn, tool_no):
        rng = self.rng
        n = rng.randrange(1, 4)
        calls = []
        for k in range(n):
            calls.append({"id": "call_%s_%d_%d" % (self.id[:6], turn, k), "type": "function",
                          "function": {"name": rng.choice(["checkAvailability", "bookSlot",
                                                           "lookupPatient"]),
                                       "arguments": json.dumps({"day": "Tuesday", "k": k})}})
        at = self.tick()
        self.conversation.append({"role": "tool_calls", "toolCalls": calls, "message": "",
                                  "time": at, "secondsFromStart": round((at - self.start_ms) / 1000.0, 3)})
        if self.conformant:  # the SDK's OpenAiMessage has role and content only
            self.openai.append({"role": "assistant", "content": ""})
        else:
            self.openai.append({"role": "assistant", "content": None, "tool_calls": calls})
        no_type = not self.conformant and rng.random() < 0.4
        f = {"toolCallList": calls,
             "toolWithToolCallList": [{"type": "function", "function": {"name": c["function"]["name"]},
                                       "toolCall": c} for c in calls]}
        if rng.random() < 0.5:
            f["artifact"] = {"messages": list(self.conversation),
                             "messagesOpenAIFormatted": list(self.openai)}
        self.add("tool-calls", f, no_type=no_type)
        same_ms = None
        if not self.conformant and rng.random() < 0.5:
            # The tool_calls item committed, then its results in the same millisecond.
            self.conversation_update(with_artifact=False)
            same_ms = self.t
        for c in calls:
            at = self.tick()
            result = json.dumps({"ok": True, "slot": "15:00", "note": "émoji 🎉"}, ensure_ascii=False)
            self.conversation.append({"role": "tool_call_result", "toolCallId": c["id"],
                                      "name": c["function"]["name"], "result": result,
                                      "time": at,
                                      "secondsFromStart": round((at - self.start_ms) / 1000.0, 3)})
            if self.conformant:
                self.openai.append({"role": "tool", "content": result})
            else:
                self.openai.append({"role": "tool", "tool_call_id": c["id"], "content": result})
        if same_ms is not None:
            f = {"messages": list(self.conversation),
                 "messagesOpenAIFormatted": list(self.openai)}
            self.add("conversation-update", f, ts=same_ms)
        else:
            self.conversation_update(with_artifact=False)

    def extras(self):
        """Messages that stress storage: unknown types, no timestamp, odd numbers and keys."""
        rng = self.rng
        # An unknown future type with deep nesting and odd numbers (raw text, as Python would
        # not write them).
        deep = {"leaf": "bottom"}
        for i in range(rng.randrange(10, 60)):
            deep = {"level%d" % i: deep, "n": i}
        self.add("call.future-event", {"payload": deep, "amount": 12.5,
                                       "big": 123456789012345678901234567890,
                                       "neg": -7, "list": [1, 2.25, None, True, "x"]},
                 raw_tweak=lambda b: b.replace('"amount": 12.5',
                                               '"amount": 1e3, "negZero": -0, "tiny": 1.5E-7', 1))
        # Two different messages without a timestamp.
        self.add("hang", {"note": "first stall"}, ts=None)
        self.add("call.future-event", {"payload": {"k": "no timestamp", "slash": "a/b"}}, ts=None,
                 raw_tweak=lambda b: b.replace("a/b", "a\\/b"))
        # Duplicate keys (the last one counts) and escaped slashes in URLs.
        self.add("user-interrupted", {"turnId": "dup"},
                 raw_tweak=lambda b: b.replace('{"message": {', '{"message": {"turnId": "first", ', 1)
                 .replace("https://", "https:\\/\\/"))
        # nulls where objects usually are.
        self.add("status-update", {"status": "in-progress", "artifact": None, "destination": None,
                                   "messages": None})

    def end(self, transferred):
        rng = self.rng
        nf = not self.conformant
        end_ms = self.t + rng.randrange(500, 3000)
        reason = rng.choice(["customer-ended-call", "assistant-ended-call",
                             "assistant-said-end-call-phrase", "silence-timed-out",
                             "call.in-progress.error-providerfault-openai-llm-failed"])
        if transferred:
            reason = "assistant-forwarded-call"
        self.ended_reason = reason
        self.ended_at = end_ms
        self.has_report = not (nf and rng.random() < 0.1)
        self.status = "ended"
        self.call_extra = {"endedAt": iso(end_ms), "endedReason": reason}
        status_ts = end_ms + rng.randrange(1, 50)
        status_fields = {"status": "ended", "endedReason": reason}
        status_msg = lambda: self.add("status-update", status_fields, ts=status_ts)
        if not self.has_report:
            status_msg()
            return
        report_ts = end_ms + rng.randrange(100, 4000)
        cost = round(rng.uniform(0.01, 2.5), 4)
        self.cost = cost
        self.summary = "Patient booked a cleaning 🦷 for Tuesday at 3 pm (#%d)." % self.index
        self.structured = {"booked": True, "day": "Tuesday", "count": 3,
                           "nested": {"deep": [1, {"x": None}]}}
        # A string in the SDK; a rubric may give a boolean or a number (kept as text).
        self.success = rng.choice(["true", "false", "8", "Pass", True, 7])
        if self.conformant and not isinstance(self.success, str):
            self.success = json.dumps(self.success)  # the SDK types it as a string
        rec = "https://storage.vapi.ai/%s-mono.wav" % self.id
        stereo = "https://storage.vapi.ai/%s-stereo.wav" % self.id
        self.recording_url, self.stereo_url = rec, stereo
        costs = [{"type": "transport", "provider": "twilio" if self.phone() else "daily",
                  "minutes": 0.6, "cost": 0.0051},
                 {"type": "vapi", "subType": "normal", "minutes": 0.6, "cost": 0.03}]

        def report(presign, ts, delivered=0):
            artifact = {"messages": list(self.conversation),
                        "messagesOpenAIFormatted": list(self.openai),
                        "transcript": self.transcript_log, "recordingUrl": rec,
                        "stereoRecordingUrl": stereo,
                        "recording": {"stereoUrl": stereo, "mono": {"combinedUrl": rec}}}
            if nf:
                artifact.update({
                    "presignedMonoUrl": rec + "?X-Amz-Signature=" + presign,
                    "presignedStereoUrl": stereo + "?X-Amz-Signature=" + presign,
                    "presignedUrlsExpiresAt": iso(report_ts + delivered + 3600000)})
                if self.mode == "workflow":
                    artifact["nodes"] = [{"nodeName": "start", "messages": [],
                                          "variableValues": {"name": "Ana"}}]
            f = {"endedReason": reason, "cost": cost, "costs": costs, "artifact": artifact,
                 "analysis": {"summary": self.summary, "structuredData": self.structured,
                              "successEvaluation": self.success},
                 "startedAt": iso(self.start_ms), "endedAt": iso(end_ms)}
            if self.destination:
                f["destination"] = self.destination
            saved = list(self.messages)
            self.messages = []
            self.add("end-of-call-report", f, ts=ts)
            body = self.messages[0]["body"]
            self.messages = saved
            return body

        self.call_extra.update({"cost": cost})
        self.fixed_ascii = rng.random() < 0.5
        original = report("%032x" % rng.getrandbits(128), report_ts)
        variants = []
        if nf:
            # A redelivery: new presigned URLs, sometimes a new timestamp too.
            # Redelivered later: the URLs are signed later (and expire later).
            later = rng.randrange(1000, 60000)
            variants.append(report("%032x" % rng.getrandbits(128),
                                   report_ts + (later if rng.random() < 0.5 else 0), later))
        self.fixed_ascii = None
        eocr = {"body": original, "variants": variants, "ts": report_ts,
                "type": "end-of-call-report"}
        if rng.random() < 0.5:
            status_msg()
            self.messages.append(eocr)
        else:
            self.messages.append(eocr)
            status_msg()
        if nf and rng.random() < 0.3:
            self.add("call.artifact.upload",
                     {"artifacts": [{"type": "recording-mono", "success": True},
                                    {"type": "end-of-call-report", "success": True}]},
                     ts=report_ts + 5000)

    def event_times(self):
        for m in self.messages:
            if m["type"] == "end-of-call-report":
                yield self.ended_at
            elif m["ts"] is not None:
                yield m["ts"]

    def expected(self):
        msgs = [json.loads(m["body"])["message"] for m in self.messages]
        status = max((STATUS_RANK.get(m.get("status"), 0) if m.get("type") == "status-update"
                      else 6 if m.get("type") == "end-of-call-report"
                      else STATUS_RANK.get((m.get("call") or {}).get("status"), 0))
                     for m in msgs)
        inv = {v: k for k, v in STATUS_RANK.items() if k != "not-found"}
        report = next((m for m in msgs if m.get("type") == "end-of-call-report"), None)
        exp = {
            "id": self.id, "org_id": self.org, "status": inv[status],
            "type": msgs[0]["call"]["type"],
            "ended_reason": self.ended_reason,
            "assistant_id": self.assistant_id if self.mode == "assistant" else None,
            "workflow_id": self.workflow_id if self.mode == "workflow" else None,
            "squad_id": self.squad_id if self.mode == "squad" else None,
            "phone_number_id": self.phone_number_id if self.phone() else None,
            "phone_number": self.vapi_number if self.phone() and self.provider != "vapi" else None,
            "customer_number": self.customer_number if self.phone() else None,
            "phone_call_provider": self.provider if self.phone() else None,
            "transport_provider": msgs[0]["call"].get("transport", {}).get("provider"),
            "created_at_ms": self.created_ms,
            "started_at_ms": self.start_ms,
            "ended_at_ms": self.ended_at,
            # The report counts at its end time (a redelivery may carry a new timestamp).
            "first_event_at_ms": min(self.event_times()),
            "last_event_at_ms": max(self.event_times()),
        }
        if report:
            exp.update({"cost": report["cost"], "summary": self.summary,
                        "structured_data": self.structured,
                        "success_evaluation": json.dumps(self.success)
                        if not isinstance(self.success, str) else self.success,
                        "recording_url": self.recording_url,
                        "stereo_recording_url": self.stereo_url,
                        "transcript": self.transcript_log})
            conversation = report["artifact"]["messages"]
        else:
            exp.update({"cost": None, "summary": None, "structured_data": None,
                        "success_evaluation": None, "recording_url": None,
                        "stereo_recording_url": None, "transcript": None})
            updates = [m for m in msgs if m.get("type") == "conversation-update"]
            # The latest; of two in one millisecond, the longer.
            conversation = max(updates, key=lambda m: (m["timestamp"], len(m["messages"])))[
                "messages"] if updates else []
        exp["destination"] = self.destination if getattr(self, "destination", None) else None
        if self.mode == "squad" and not exp["destination"] and any(
                m.get("type") == "transfer-update" for m in msgs):
            exp["destination"] = {"type": "assistant", "assistantName": "Billing"}
        exp["conversation"] = conversation
        return exp


def generate(seed, n, conformant=False):
    rng = random.Random(seed)
    calls = []
    for i in range(n):
        c = Call(rng, i, seed, conformant)
        c.script()
        calls.append(c)
    return calls


def cmd_gen(seed, n, out):
    calls = generate(seed, n)
    plan = [{"id": c.id, "messages": c.messages, "expected": c.expected()} for c in calls]
    with open(os.path.join(out, "plan.json"), "w", encoding="utf-8") as f:
        json.dump(plan, f)
    # One body per line (raw; a body never contains a raw newline) for the C++ driver:
    # "<call index> <message index> <variant index> <body>".
    with open(os.path.join(out, "bodies.txt"), "w", encoding="utf-8") as f:
        for ci, c in enumerate(calls):
            for mi, m in enumerate(c.messages):
                for vi, b in enumerate([m["body"]] + m["variants"]):
                    assert "\n" not in b
                    f.write("%d %d %d %s\n" % (ci, mi, vi, b))


def cmd_conform(seed, out):
    calls = generate(seed, 6, conformant=True)
    n = 0
    known = {"assistant-request", "status-update", "speech-update", "transcript",
             "conversation-update", "tool-calls", "end-of-call-report", "transfer-update",
             "phone-call-control", "knowledge-base-request", "call.endpointing.request",
             "transfer-destination-request", "handoff-destination-request"}
    for c in calls:
        for m in c.messages:
            msg = json.loads(m["body"])["message"]
            if msg.get("type") not in known:
                continue
            with open(os.path.join(out, "%04d-%s.json" % (n, msg["type"])), "w",
                      encoding="utf-8") as f:
                f.write(m["body"])
            n += 1
    print(n)


# ---- check --------------------------------------------------------------------------------
def ms(v):
    return None if v is None else int(round(v))


def stored_text(v):
    """Text as the derived columns hold it: Postgres text cannot hold U+0000, which is kept as
    U+FDD0 U+FDD1 (and U+FDD0 as U+FDD0 U+FDD0); schemas/README.md."""
    if isinstance(v, str):
        return v.replace("\ufdd0", "\ufdd0\ufdd0").replace("\x00", "\ufdd0\ufdd1")
    if isinstance(v, list):
        return [stored_text(x) for x in v]
    if isinstance(v, dict):
        return {stored_text(k): stored_text(x) for k, x in v.items()}
    return v


def same_number(a, b):
    return a is not None and b is not None and abs(float(a) - float(b)) < 1e-9


def cmd_check(out):
    with open(os.path.join(out, "plan.json"), encoding="utf-8") as f:
        plan = json.load(f)
    with open(os.path.join(out, "calls.json"), encoding="utf-8") as f:
        rows = {r["id"]: r for r in (json.load(f) or [])}
    with open(os.path.join(out, "messages.json"), encoding="utf-8") as f:
        turns = {}
        for r in json.load(f) or []:
            turns.setdefault(r["call_id"], []).append(r)
    errors = []

    def err(call, what, got, want):
        errors.append("call %s: %s: got %r, want %r" % (call, what, got, want))

    for c in plan:
        e = c["expected"]
        cid = c["id"]
        row = rows.get(cid)
        if row is None:
            err(cid, "calls row", None, "present")
            continue
        for k in ["org_id", "status", "type", "ended_reason", "assistant_id", "workflow_id",
                  "squad_id", "phone_number_id", "phone_number", "customer_number",
                  "phone_call_provider", "transport_provider", "summary", "structured_data",
                  "success_evaluation", "recording_url", "stereo_recording_url", "transcript",
                  "destination"]:
            if row.get(k) != stored_text(e[k]):
                err(cid, k, row.get(k), stored_text(e[k]))
        if e["cost"] is None:
            if row.get("cost") is not None:
                err(cid, "cost", row.get("cost"), None)
        elif not same_number(row.get("cost"), e["cost"]):
            err(cid, "cost", row.get("cost"), e["cost"])
        for k in ["created_at", "started_at", "ended_at", "first_event_at", "last_event_at"]:
            if ms(row.get(k + "_ms")) != e[k + "_ms"]:
                err(cid, k, row.get(k + "_ms"), e[k + "_ms"])
        if e["started_at_ms"] and e["ended_at_ms"]:
            want = (e["ended_at_ms"] - e["started_at_ms"]) / 1000.0
            if not same_number(row.get("duration_seconds"), want):
                err(cid, "duration_seconds", row.get("duration_seconds"), want)
        # The conversation, turn by turn.
        got = sorted(turns.get(cid, []), key=lambda r: r["position"])
        want = e["conversation"]
        if len(got) != len(want):
            err(cid, "call_messages rows", len(got), len(want))
        for i, (g, w) in enumerate(zip(got, want)):
            role = w.get("role")
            checks = {"position": (g["position"], i), "role": (g["role"], role),
                      "message": (g["message"], w.get("message")),
                      "time": (ms(g["time_ms"]), w.get("time")),
                      "end_time": (ms(g["end_time_ms"]), w.get("endTime")),
                      "tool_call_id": (g["tool_call_id"], w.get("toolCallId")),
                      "name": (g["name"], w.get("name")),
                      "result": (g["result"], w.get("result")),
                      "tool_calls": (g["tool_calls"], w.get("toolCalls"))}
            for k, (a, b) in checks.items():
                b = stored_text(b)
                if a != b:
                    err(cid, "call_messages[%d].%s" % (i, k), a, b)
            if not same_number(g["seconds_from_start"], w.get("secondsFromStart")):
                err(cid, "call_messages[%d].seconds_from_start" % i, g["seconds_from_start"],
                    w.get("secondsFromStart"))
        # The export: every distinct message exactly once, JSON-equal to one of its deliveries.
        path = os.path.join(out, "export-%s.ndjson" % cid)
        with open(path, encoding="utf-8") as f:
            exported = [json.loads(line) for line in f if line.startswith("{")]
        remaining = list(exported)
        for mi, m in enumerate(c["messages"]):
            forms = [json.loads(b)["message"] for b in [m["body"]] + m["variants"]]
            hit = next((k for k, x in enumerate(remaining) if any(x == f for f in forms)), None)
            if hit is None:
                err(cid, "export of message %d (%s)" % (mi, m["type"]), "missing",
                    json.dumps(forms[0], ensure_ascii=False)[:300])
            else:
                remaining.pop(hit)
        for x in remaining:
            err(cid, "export", "extra message " + json.dumps(x, ensure_ascii=False)[:300], None)
    for line in errors[:200]:
        print(line)
    print("%d calls checked, %d differences" % (len(plan), len(errors)))
    return 1 if errors else 0


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "gen":
        cmd_gen(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
    elif cmd == "conform":
        cmd_conform(int(sys.argv[2]), sys.argv[3])
    elif cmd == "check":
        sys.exit(cmd_check(sys.argv[2]))
