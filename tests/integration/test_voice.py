"""Voice in and out through the real openai client against the loopback fake."""

from __future__ import annotations

from typing import Any

import pytest

from core.llm import ModelNames, OpenAIModel
from core.media.voice import MAX_AUDIO_BYTES, Speaker, Transcriber, VoiceError
from core.types import Attachment, AttachmentKind
from tests.fakes.openai_server import Error, FakeOpenAI, Hang

OGG = b"OggS\x00\x02" + b"\x00" * 200  # the fake only needs bytes; the real service sniffs the file


def make_model(fake: FakeOpenAI, **kwargs: Any) -> OpenAIModel:
    kwargs.setdefault("max_retries", 0)
    return OpenAIModel(
        api_key="sk-test",
        base_url=fake.base_url,
        models=ModelNames(transcription="transcribe-test", speech="speech-test"),
        **kwargs,
    )


def audio(filename: str, content_type: str, data: bytes = OGG) -> Attachment:
    return Attachment(AttachmentKind.AUDIO, filename, content_type, data)


# -- transcription ----------------------------------------------------------------------------


async def test_a_discord_voice_message_is_transcribed(openai_fake: FakeOpenAI) -> None:
    openai_fake.transcription_text = " Remind me to water the monstera. "
    heard = await Transcriber(make_model(openai_fake)).transcribe(audio("voice-message.ogg", "audio/ogg"))

    assert heard.text == "Remind me to water the monstera."
    [request] = openai_fake.requests_to("/v1/audio/transcriptions")
    assert request.form is not None
    assert request.form["model"] == "transcribe-test"
    assert request.form["file"] == OGG


@pytest.mark.parametrize(
    ("filename", "content_type"),
    [("audio_message.m4a", "audio/mp4"), ("Recording", "audio/webm"), ("clip.opus", "audio/opus")],
)
async def test_slack_clips_and_other_names_are_accepted(
    openai_fake: FakeOpenAI, filename: str, content_type: str
) -> None:
    heard = await Transcriber(make_model(openai_fake)).transcribe(audio(filename, content_type))
    assert heard.text == openai_fake.transcription_text


async def test_unsupported_and_oversized_audio_is_refused_before_upload(openai_fake: FakeOpenAI) -> None:
    transcriber = Transcriber(make_model(openai_fake))
    with pytest.raises(VoiceError) as unsupported:
        await transcriber.transcribe(audio("memo.amr", "audio/amr"))
    with pytest.raises(VoiceError) as too_large:
        await transcriber.transcribe(audio("long.mp3", "audio/mpeg", b"\x00" * (MAX_AUDIO_BYTES + 200_000)))
    with pytest.raises(VoiceError) as empty:
        await transcriber.transcribe(audio("nothing.wav", "audio/wav", b""))

    assert unsupported.value.user_message == (
        "I can't listen to memo.amr: voice messages must be one of flac, mp3, mp4, mpeg, mpga, m4a, ogg, wav, webm."
    )
    assert too_large.value.user_message == "That recording is too large (25.2 MB); I can listen to at most 25 MB."
    assert empty.value.user_message == "That recording is empty."
    assert openai_fake.requests == []


async def test_transcription_failures_give_a_clear_line(openai_fake: FakeOpenAI) -> None:
    openai_fake.queue_for("transcriptions", Error(500), Hang(5))
    with pytest.raises(VoiceError) as failed:
        await Transcriber(make_model(openai_fake)).transcribe(audio("v.ogg", "audio/ogg"))
    with pytest.raises(VoiceError) as slow:
        await Transcriber(make_model(openai_fake), timeout=0.2).transcribe(audio("v.ogg", "audio/ogg"))
    openai_fake.transcription_text = "   "
    with pytest.raises(VoiceError) as silent:
        await Transcriber(make_model(openai_fake)).transcribe(audio("v.ogg", "audio/ogg"))

    assert failed.value.user_message == (
        "I couldn't transcribe the voice message. The model service failed (HTTP 500); try again shortly."
    )
    assert slow.value.user_message == (
        "I couldn't transcribe the voice message. The model service took too long to answer."
    )
    assert silent.value.user_message == "I couldn't hear any words in that recording."


# -- speech -------------------------------------------------------------------------------------


async def test_an_answer_is_read_aloud_in_the_configured_voice(openai_fake: FakeOpenAI) -> None:
    speech = await Speaker(make_model(openai_fake), voice="nova").speak(
        "**Good morning!** See [the forecast](https://weather.example/today).\n\n```py\nprint(1)\n```"
    )

    [file] = speech.files
    assert (file.filename, file.content_type) == ("answer.mp3", "audio/mpeg")
    assert file.data.startswith(b"\xff\xfb")  # an MPEG audio frame, as the service sends
    assert speech.note == ""
    [request] = openai_fake.requests_to("/v1/audio/speech")
    assert request.json["input"] == "Good morning! See the forecast.\n\n(code omitted)"
    assert (request.json["voice"], request.json["model"]) == ("nova", "speech-test")
    assert speech.characters == len(request.json["input"])


async def test_a_long_answer_is_read_in_parts_and_cut_with_a_note(openai_fake: FakeOpenAI) -> None:
    sentence = "The captain's log records every day at sea in some detail. "
    long_text = sentence * 250  # about 15,000 characters

    speech = await Speaker(make_model(openai_fake), max_parts=2).speak(long_text)

    inputs = [r.json["input"] for r in openai_fake.requests_to("/v1/audio/speech")]
    assert len(inputs) == 2 and all(len(part) <= 4096 for part in inputs)
    assert all(part.endswith("detail.") for part in inputs)
    assert [f.filename for f in speech.files] == ["answer-1.mp3", "answer-2.mp3"]
    assert speech.note == "The spoken version stops early; the full answer is in the text."


async def test_speech_failures_give_a_clear_line(openai_fake: FakeOpenAI) -> None:
    openai_fake.queue_for("speech", Error(500), Hang(5))
    with pytest.raises(VoiceError) as failed:
        await Speaker(make_model(openai_fake)).speak("Hello")
    with pytest.raises(VoiceError) as slow:
        await Speaker(make_model(openai_fake), timeout=0.2).speak("Hello")
    with pytest.raises(VoiceError) as nothing:
        await Speaker(make_model(openai_fake)).speak("  ")

    assert failed.value.user_message == (
        "I couldn't read the answer aloud. The model service failed (HTTP 500); try again shortly."
    )
    assert slow.value.user_message == "I couldn't read the answer aloud. The model service took too long to answer."
    assert nothing.value.user_message == "There is nothing to read aloud."
