"""Build the follow-up sets: ``bench/data/<set>/followups.jsonl`` (two-turn conversations).

    python bench/build_followups.py          # writes every set's followups.jsonl

Each row is a conversation of two questions: ``first`` sets the topic, ``question`` is the
follow-up, written the way people follow up ("and on Windows?", "how do I turn it off for a
single command?", "what about MPEG-2?"): it leans on the first question (a pronoun, an
ellipsis, a "what about"), so searched on its own words it loses the topic. The follow-up asks
what an answerable question of the set asks, and its ``gold`` (and ``document``, ``split``) is
that question's (``source_id``). The first question is often another question of the set, or
a broader one about the same subject; it is never scored.

The pairs are written by hand (below), for the first 30 answerable questions of each set's
``test`` split (ffmpeg: all 31) and the first 12 of its ``tune`` split, in file order: a
template over the original question gave follow-ups nobody would type. Rows are
deterministic: the same table gives the same files. ``bench/eval_followups.py`` scores them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "bench" / "data"

#: {set: {question id: (first question, follow-up)}}
PAIRS: dict[str, dict[str, tuple[str, str]]] = {
    "curl_faq": {
        # test
        "curl-3": ("What is curl?", "and what is it not?"),
        "curl-4": ("Does curl support every protocol I might need?",
                   "and if it doesn't, when will you make it do what I need?"),
        "curl-6": ("Who makes curl?", "what do they get for it?"),
        "curl-7": ("What is cURL?", "is it the same as the one from curl.com?"),
        "curl-8": ("I have a problem with curl, where do I get help?",
                   "which mailing list should I write to?"),
        "curl-9": ("Who makes curl?", "can I buy commercial support from them?"),
        "curl-11": ("What certificates does curl use for SSL?",
                    "why don't you update that bundle?"),
        "curl-14": ("How can I contribute to curl?", "and how do I submit a patch?"),
        "curl-15": ("What platforms does libcurl run on?",
                    "what if mine isn't one of them, how do I port it?"),
        "curl-16": ("How do I build curl from source?",
                    "what if configure fails when I use static libraries?"),
        "curl-17": ("Does curl support OpenSSL?", "what about other SSL libraries?"),
        "curl-18": ("How do I download an https URL with curl?",
                    "it says SSL is disabled, https not supported"),
        "curl-19": ("My curl download was interrupted halfway.", "can I resume it?"),
        "curl-20": ("How do I post a form with curl?", "why doesn't it work with -F?"),
        "curl-24": ("How do I upload a file to an FTP server with curl?",
                    "and can I delete or rename it there?"),
        "curl-28": ("How do I POST data with curl?", "and with a different Content-Type?"),
        "curl-31": ("Can curl use a proxy?", "what about PAC files or JavaScript?"),
        "curl-36": ("How do I fetch a web page with curl?",
                    "and from one specific IP address of the host?"),
        "curl-40": ("How do I pass a URL to curl?", "why does it break when it contains & or %?"),
        "curl-42": ("Does curl tell me when a web page does not exist?",
                    "then why do I still get data for it?"),
        "curl-43": ("What do HTTP return codes mean?",
                    "why would the server send me one like 401 or 404?"),
        "curl-45": ("How do I log in to a site with curl?",
                    "how do I keep the password secret on the command line?"),
        "curl-47": ("What authentication methods does curl support?",
                    "and NTLM? it fails for me"),
        "curl-50": ("How does curl check SSL certificates?",
                    "why does it say certificate verify failed?"),
        "curl-57": ("How does curl detect network errors?", "what if I unplug the cable?"),
        "curl-61": ("How do I download a file with libcurl?", "and several of them?"),
        "curl-63": ("What is CURLOPT_WRITEDATA for?", "does it work on win32?"),
        "curl-64": ("How do I transfer many files from the same server with curl?",
                    "does it reuse the connection?"),
        "curl-65": ("How do I build libcurl?", "I get link errors doing it on Windows"),
        "curl-67": ("What is libcurl?", "how does it resolve host names?"),
        # tune
        "curl-1": ("Where does the name curl come from?", "and what is it exactly?"),
        "curl-2": ("What is curl?", "and libcurl?"),
        "curl-5": ("What is curl?", "who makes it?"),
        "curl-10": ("Is curl popular?", "how many people use it?"),
        "curl-12": ("Where can I get help with curl?",
                    "is there somewhere I can chat with someone?"),
        "curl-13": ("Can I export software that includes curl?", "what's its ECCN number?"),
        "curl-21": ("Does curl support FTP?", "how do I send custom commands with it?"),
        "curl-22": ("What headers does curl send by default?", "how do I disable the Accept one?"),
        "curl-23": ("What protocols does curl support?", "what about XML or XHTML?"),
        "curl-25": ("My curl request gets a 301 response.", "how do I make it follow the redirect?"),
        "curl-26": ("What is libcurl?", "can I use it from Python or my favorite language?"),
        "curl-27": ("Does curl support HTTP?", "and SOAP or WebDAV on top of it?"),
    },
    "debian_faq": {
        # test
        "faq-1": ("Where can I find the Debian FAQ?", "what does it cover?"),
        "faq-5": ("What is Debian GNU/Linux?", "how is it different from other distributions?"),
        "faq-6": ("What is the Debian project?", "how does it relate to GNU?"),
        "faq-7": ("What is Debian?", "how do you pronounce it?"),
        "faq-8": ("Where can I download Debian?", "what's the latest version?"),
        "faq-10": ("How do I install Debian?", "where do I get the images for it?"),
        "faq-14": ("How do I boot the Debian installer from CD?", "are there other ways to boot it?"),
        "faq-15": ("What are stable, testing and unstable?", "which one is better for me?"),
        "faq-17": ("What distributions does Debian have?", "do packages have different versions "
                   "in each?"),
        "faq-18": ("What is in Debian stable?", "why are its packages so old?"),
        "faq-24": ("How often does Debian release?", "what happens when one is made?"),
        "faq-25": ("What are stable, testing and unstable?",
                   "how do I know which one my machine is running?"),
        "faq-26": ("What is the testing distribution?", "I'm on stable, can I switch to it?"),
        "faq-31": ("Is Ubuntu based on Debian?",
                   "I have a problem with it after installing, what should I do?"),
        "faq-32": ("What about Ubuntu and Linux Mint?", "how do I migrate from them to Debian?"),
        "faq-33": ("What is Debian GNU/Linux?", "which hardware architectures does it run on?"),
        "faq-34": ("Does Debian only use Linux?", "what other kernels does it run?"),
        "faq-36": ("How compatible is Debian with other Linux distributions?",
                   "and at the source code level with other Unix systems?"),
        "faq-38": ("How do I install a package on Debian?", "and a program that isn't packaged "
                   "for it?"),
        "faq-40": ("How many packages does Debian have?", "who wrote all of them?"),
        "faq-42": ("How do I build a Debian package?", "what do I need to install for that?"),
        "faq-43": ("What software is available for Debian?", "what's missing from it?"),
        "faq-44": ("How do I compile programs on Debian?",
                   "why does the linker say cannot find -lfoo?"),
        "faq-46": ("What is the latest version of Debian?", "how do I check which one my system "
                   "has?"),
        "faq-47": ("What software is available for Debian?", "does it support non-English "
                   "languages?"),
        "faq-49": ("Can I watch videos in Debian's web browsers?", "and play Flash?"),
        "faq-53": ("What is Debian stable?", "how many distributions are there besides it?"),
        "faq-54": ("What is Debian's latest release called?", "what are names like etch and "
                   "lenny?"),
        "faq-55": ("Where do Debian's codenames come from?", "which ones were used in the past?"),
        "faq-57": ("What are the codenames of Debian releases?", "and sid?"),
        # tune
        "faq-2": ("What is Linux?", "and Debian GNU/Linux?"),
        "faq-3": ("What is Debian?", "and what is Linux itself?"),
        "faq-4": ("What is Debian GNU/Linux?", "is that the only system they make?"),
        "faq-9": ("What is Debian stable?", "does it get package upgrades?"),
        "faq-11": ("Where do I get the Debian installation images?",
                   "how do I install from them on CD?"),
        "faq-12": ("What is on the official stable CD-ROM?",
                   "why does it have symlinks for frozen and unstable?"),
        "faq-13": ("How do I install Debian from CD-ROMs?",
                   "can I install it over the Internet instead?"),
        "faq-16": ("Which Debian distribution should I install?",
                   "my hardware doesn't work in stable, what now?"),
        "faq-19": ("Which Debian distribution is better for me?", "can I change to another one "
                   "later?"),
        "faq-20": ("What are stable, testing and unstable?", "which one should I install?"),
        "faq-21": ("What is the testing distribution?", "what do you mean when you say it's "
                   "broken?"),
        "faq-22": ("What is the testing distribution?", "why can it stay broken for months?"),
    },
    "ffmpeg_faq": {
        # test
        "ffmpeg-1": ("What features does FFmpeg support?", "why not the one I need?"),
        "ffmpeg-4": ("Which video codecs should I use with ffmpeg?",
                     "and which ones work on Windows?"),
        "ffmpeg-5": ("How do I compile FFmpeg?",
                     "it fails with can't find a register in class GENERAL_REGS"),
        "ffmpeg-6": ("How do I enable an external library when building FFmpeg?",
                     "I installed it with my distro's package manager but configure doesn't "
                     "find it"),
        "ffmpeg-9": ("How do I convert a video with ffmpeg?", "it doesn't work, what is wrong?"),
        "ffmpeg-10": ("Can ffmpeg make videos from images?",
                      "how do I encode a series of pictures into one?"),
        "ffmpeg-12": ("Does ffmpeg support multithreaded encoding?",
                      "why does it lower the quality with MPEG?"),
        "ffmpeg-13": ("How do I encode a video with ffmpeg?", "why can't I change its frame rate?"),
        "ffmpeg-14": ("Which codecs can ffmpeg encode?", "what about Xvid or DivX?"),
        "ffmpeg-15": ("How do I encode high quality video with ffmpeg?",
                      "which parameters for MPEG-4?"),
        "ffmpeg-18": ("Which file formats can ffmpeg read?", "and DirectShow files?"),
        "ffmpeg-19": ("How do I cut a video with ffmpeg?", "and how do I join several of them?"),
        "ffmpeg-20": ("Can ffmpeg merge videos?", "how do I concatenate them?"),
        "ffmpeg-21": ("How do I generate audio with -f lavfi?", "why does it come out mono?"),
        "ffmpeg-24": ("How do I scale a video with ffmpeg?",
                      "my video is stretched, why doesn't that fix it?"),
        "ffmpeg-28": ("Which compilers can build FFmpeg?", "can you support mine?"),
        "ffmpeg-29": ("Which compilers can build FFmpeg?", "is Visual C++ one of them?"),
        "ffmpeg-30": ("How is FFmpeg's build system set up?",
                      "can you add automake or autoconf to it?"),
        "ffmpeg-31": ("What language is FFmpeg written in?",
                      "why not rewrite it in object-oriented C++?"),
        "ffmpeg-33": ("What license is FFmpeg under?",
                      "I don't like it, can I contribute under the GPL instead?"),
        "ffmpeg-34": ("How do I use the FFmpeg libraries from my C program?",
                      "the linker complains about missing symbols, why?"),
        "ffmpeg-38": ("Can libavcodec decode RTP streams?", "how do I feed H.263 over RTP to it?"),
        "ffmpeg-40": ("How do I run FFmpeg's test suite?", "why doesn't make fate run all of them?"),
        "ml-6": ("How do I send a message to the FFmpeg mailing list?",
                 "why is it awaiting moderator approval?"),
        "ml-7": ("Why is my message awaiting moderator approval?",
                 "how long does it take to get approved?"),
        "ml-9": ("What is the ffmpeg-user mailing list?", "where are its archives?"),
        "ml-12": ("How do I ask a question on the mailing list?", "is there an alternative to it?"),
        "ml-13": ("How should I reply on the mailing list?", "what's wrong with top-posting there?"),
        "ml-16": ("How do I subscribe to the mailing list?", "will I get spam if I do?"),
        "ml-20": ("How do I post to the FFmpeg mailing lists?",
                  "are there rules or etiquette I should follow there?"),
        "ml-22": ("How do I send a message to the mailing list?", "why doesn't mine show up?"),
        # tune
        "ffmpeg-2": ("Why doesn't FFmpeg support codec XXX?",
                     "can you include a Windows DLL loader for it?"),
        "ffmpeg-3": ("Which formats does ffmpeg support?",
                     "mine is listed but ffmpeg can't read the file, why?"),
        "ffmpeg-7": ("Why does configure not see my library?", "how do I make pkg-config find it?"),
        "ffmpeg-8": ("How do I make pkg-config find my libraries?", "and when cross-compiling?"),
        "ffmpeg-11": ("How do I encode single pictures into a movie?", "and the other way round?"),
        "ffmpeg-16": ("Which are good parameters for high quality MPEG-4?", "what about MPEG-2?"),
        "ffmpeg-17": ("How do I encode interlaced video with ffmpeg?", "why does it look so bad?"),
        "ffmpeg-22": ("Can ffmpeg read VOB files?", "why doesn't it see the subtitles in them?"),
        "ffmpeg-23": ("What does the ffmpeg -sameq option do?", "why was it removed?"),
        "ffmpeg-25": ("How do I run a long ffmpeg encode?", "can I run it in the background?"),
        "ffmpeg-26": ("How do I run ffmpeg as a background task?",
                      "it stops with suspended (tty output), how do I prevent that?"),
        "ffmpeg-27": ("What are libavcodec and libavformat?",
                      "are there examples of how to use them?"),
    },
    "zsh_faq": {
        # test
        "zsh-1": ("What is zsh?", "where can I find more information about it?"),
        "zsh-2": ("Where do I get zsh?", "what is it, actually?"),
        "zsh-3": ("What is zsh?", "what is it good at?"),
        "zsh-4": ("What is zsh?", "which machines does it run on?"),
        "zsh-6": ("What's the latest version of zsh?", "where do I get it?"),
        "zsh-8": ("What is zsh?", "how does it differ from sh and ksh?"),
        "zsh-10": ("Is zsh similar to csh?", "why don't my aliases from it work?"),
        "zsh-11": ("What are zsh's similarities with csh?", "and with tcsh?"),
        "zsh-14": ("What is zsh good at?", "does it support Unicode and UTF-8?"),
        "zsh-18": ("How do I export a variable in zsh?",
                   "how is that different from the ALL_EXPORT option?"),
        "zsh-19": ("How do I turn on spelling correction in zsh?",
                   "how do I turn it off for a single command?"),
        "zsh-20": ("How do I use the Meta key in zsh?",
                   "it doesn't work on my xterm, how do I fix that?"),
        "zsh-21": ("Can zsh change my xterm title bar?", "how do I make it show the current "
                   "directory?"),
        "zsh-23": ("How do I move around the command line in zsh?",
                   "why don't the arrow keys work?"),
        "zsh-24": ("Why do the cursor keys not work in zsh?",
                   "and why does my terminal act funny in other ways?"),
        "zsh-25": ("Can I use zsh inside Emacs?", "why doesn't it work in shell mode any more?"),
        "zsh-27": ("How do I do arithmetic in zsh?", "and in another base, like hex?"),
        "zsh-28": ("How do I set my prompt in zsh?", "how do I get a newline in it?"),
        "zsh-29": ("How do I bind a key in zsh?", "why does it do something funny with ^a?"),
        "zsh-32": ("How do history substitutions work in zsh?",
                   "why do single bangs do something funny?"),
        "zsh-37": ("How do I use variables in zsh?",
                   "how do I evaluate one's value as the name of another?"),
        "zsh-40": ("How do I get a newline in my prompt?",
                   "and how do I make it coloured on my xterm?"),
        "zsh-44": ("What does which do in zsh?",
                   "why does its output for missing commands go to stdout?"),
        "zsh-45": ("How does brace expansion work in zsh?",
                   "why doesn't *.{tex,aux,pdf} do what I expect?"),
        "zsh-46": ("What is zsh good at?", "what is this completion it's famous for?"),
        "zsh-47": ("What is completion in zsh?", "what sorts of things can it complete?"),
        "zsh-48": ("What is completion in zsh?", "how does it deal with ambiguous ones?"),
        "zsh-50": ("What sorts of things can zsh complete?",
                   "how do I get started programming my own?"),
        "zsh-51": ("How do I get started with programmable completion?",
                   "what if I want it to complete all files in a special case?"),
        "zsh-54": ("What is multibyte input?", "how do I make sure it works on my system?"),
        # tune
        "zsh-5": ("Where do I get zsh?", "what's the latest version?"),
        "zsh-7": ("How do I make zsh my login shell?", "what if I don't have root access?"),
        "zsh-9": ("How does zsh differ from sh and ksh?", "and what does it share with csh?"),
        "zsh-12": ("What are zsh's similarities with tcsh?", "what about bash?"),
        "zsh-13": ("How does zsh differ from ksh?", "shouldn't it be more like it?"),
        "zsh-15": ("What are zsh's similarities with bash?",
                   "then why does my bash script fail under it?"),
        "zsh-16": ("How do variables work in zsh?", "why doesn't $var split when it's set to "
                   "foo bar?"),
        "zsh-17": ("What startup files does zsh read?", "which one do I put my settings in?"),
        "zsh-22": ("What is completion?", "how do I make its list use eight bit characters?"),
        "zsh-26": ("How do autoloaded functions work?", "why don't mine load the first time?"),
        "zsh-30": ("How do I bind keys in zsh?", "why can't I bind ctrl-s and ctrl-q any more?"),
        "zsh-31": ("How do I write a function in zsh?",
                   "how do I call the command of the same name from inside it?"),
    },
}


def build(name: str, pairs: dict[str, tuple[str, str]], data: Path = DATA) -> list[dict]:
    """The rows of one set's follow-up file, in the set's question order."""
    questions = [json.loads(line) for line in
                 (data / name / "questions.jsonl").read_text(encoding="utf-8").splitlines()
                 if line.strip()]
    by_id = {q["id"]: q for q in questions}
    unknown = [i for i in pairs if i not in by_id or not by_id[i].get("answerable", True)]
    if unknown:
        raise ValueError(f"{name}: not answerable questions of the set: {unknown}")
    rows = []
    for q in questions:
        if q["id"] in pairs:
            first, follow = pairs[q["id"]]
            rows.append({"id": f"{q['id']}-followup", "source_id": q["id"], "first": first,
                         "question": follow, "standalone": q["question"],
                         "document": q.get("document"), "gold": q["gold"], "answerable": True,
                         "split": q["split"]})
    return rows


def main() -> int:
    for name, pairs in PAIRS.items():
        rows = build(name, pairs)
        out = DATA / name / "followups.jsonl"
        out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                       encoding="utf-8")
        splits = {s: sum(r["split"] == s for r in rows) for s in ("tune", "test")}
        print(f"{out.relative_to(REPO)}: {len(rows)} conversations {splits}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
