"""`boda vision ...`: train the digit model and read digits from an image file."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from boda.apps.vision.settings import vision_settings
from boda.core.config import get_settings
from boda.core.errors import BodaError, PayloadTooLarge

if TYPE_CHECKING:  # the model runtime loads only when a command needs it (`boda --help` stays fast)
    from boda.ai.digits import DigitReading
    from boda.apps.vision.schemas import AnonymizeOptions
    from boda.core.runtime import Runtime

cli = typer.Typer(help="Vision tools: digits, MNIST samples, face anonymisation.", no_args_is_help=True)
console = Console()

@cli.command("train-digits")
def train_digits_command(
    out: Annotated[
        Path | None,
        typer.Option(help="Where to write the ONNX model (+ .json metrics); default: the models folder, "
                     "where Boda then finds it before the carried one."),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Folder with the MNIST IDX .gz files (default: $BODA_VISION__MNIST_DIR, "
                     "else the copy carried in the package)"),
    ] = None,
    epochs: Annotated[int, typer.Option(min=1)] = 8,
    seed: int = 1234,
    batch_size: Annotated[int, typer.Option(min=1)] = 128,
    members: Annotated[int, typer.Option(min=1, help="CNNs to train (seeds seed, seed+1, ...) and join "
                                         "into one ONNX ensemble")] = 1,
    device: Annotated[str, typer.Option(help="torch device: cpu, cuda, cuda:1 ...")] = "cpu",
) -> None:
    """Train the digit CNN on MNIST, check it on the test split and export ONNX."""
    from boda.apps.vision.training import train_digits

    missing = [name for name in ("torch", "onnx") if importlib.util.find_spec(name) is None]
    if missing:
        console.print(f"[red]Training needs {' and '.join(missing)}: pip install 'boda[train]'[/red]")
        raise typer.Exit(1)
    from boda.ai.catalog import CARRIED_DIR

    settings = get_settings()
    out = out or settings.models_dir / "digits_cnn.onnx"
    if out.resolve().parent == CARRIED_DIR.resolve():
        # The carried weights are checked against their SHA256SUMS: overwriting them breaks every install.
        raise typer.BadParameter(f"{out} is one of the weights carried with Boda; write to the models folder "
                                 f"({settings.models_dir}) instead", param_hint="--out")
    data_dir = data_dir or vision_settings(settings).mnist_dir
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>5.1f}%"),
               TimeElapsedColumn())
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("loading MNIST", total=1.0)
        metrics = train_digits(
            out=out, data_dir=data_dir, epochs=epochs, seed=seed, batch_size=batch_size, members=members,
            device=device, progress=lambda done, message: bar.update(task, completed=done,
                                                                     description=message),
        )
    console.print(f"Test accuracy {metrics['test_accuracy']:.2%} on {metrics['test_digits']} digits; "
                  f"{metrics['parameters']:,} parameters; wrote {out}")


@cli.command("read-digits")
def read_digits_command(
    image: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Photo or drawing.")],
    multi: Annotated[bool, typer.Option("--multi", help="Read lines of digits (a number, a page), not one.")] = False,
    model: Annotated[Path | None, typer.Option(help="ONNX model (default: the models folder's, else carried)")] = None,
) -> None:
    """Read a handwritten digit (or with --multi a number) from an image file."""
    import cv2
    import numpy as np

    from boda.ai.digits import DigitReader

    pixels = cv2.imread(str(image), cv2.IMREAD_UNCHANGED)
    if pixels is None:
        raise typer.BadParameter(f"{image} is not an image OpenCV can read")
    if pixels.dtype == np.uint16:
        pixels = (pixels >> 8).astype(np.uint8)
    from boda.ai.registry import Providers

    reader = DigitReader(model) if model else Providers(get_settings()).digit_reader
    try:
        if multi:
            page = reader.read_page(pixels)
            turned = f", turned {page.rotation}°" if page.rotation else ""
            console.print(f"[bold]{page.text}[/bold]  (lowest confidence {page.confidence:.1%}{turned})")
            for reading in page.digits:
                console.print(_describe(reading))
        else:
            console.print(_describe(reader.read_digit(pixels)))
    except BodaError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(1) from exc


def _describe(reading: DigitReading) -> str:
    x, y, w, h = reading.box
    return f"{reading.digit}  confidence {reading.confidence:.1%}  box x={x} y={y} w={w} h={h}"


@cli.command("mnist-sample")
def mnist_sample_command(
    index: Annotated[int, typer.Argument(help="Index into the MNIST training digits.")] = 100,
    out: Annotated[Path, typer.Option(help="Where to write the PNG.")] = Path("mnist_sample.png"),
    noise: Annotated[bool, typer.Option("--noise", help="Add Gaussian noise (σ=15).")] = False,
    seed: Annotated[int | None, typer.Option(min=0, max=2**32 - 1, help="Seed for the noise.")] = None,
) -> None:
    """Write an MNIST training digit as a PNG and print its label."""
    from boda.apps.vision.mnist import MNIST_ATTRIBUTION
    from boda.apps.vision.service import mnist_digit

    try:
        image, label, _ = mnist_digit(get_settings(), index, add_noise=noise, seed=seed)
    except BodaError as exc:
        raise typer.BadParameter(exc.message) from exc
    image.save(out)
    console.print(f"#{index}: label [bold]{label}[/bold] → {out}  ({MNIST_ATTRIBUTION})")


@cli.command("anonymize")
def anonymize_command(
    photos: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False,
                                                 help="Photos or videos (MP4, MOV, WebM, MKV) to anonymise.")],
    out: Annotated[Path, typer.Option(help="Folder for the anonymised copies.")] = Path("anonymized"),
    method: Annotated[str, typer.Option(help="mosaic, blur or box.")] = "mosaic",
    threshold: Annotated[float, typer.Option(min=0.05, max=0.99)] = 0.5,
    strength: Annotated[float, typer.Option(min=0.1, max=5.0)] = 1.0,
    detector: Annotated[str, typer.Option(help="auto, yunet, centerface or haar.")] = "auto",
) -> None:
    """Cover the faces in photos and videos on disk; copies go to --out (photos without EXIF, videos with
    their sound), originals are untouched."""
    from PIL import Image, ImageOps
    from pydantic import ValidationError
    from rich.progress import Progress

    from boda.apps.vision.schemas import AnonymizeOptions
    from boda.apps.vision.service import cover_faces
    from boda.core.runtime import Runtime
    from boda.core.schemas import plain_errors
    from boda.core.uploads import encode_image

    try:
        options = AnonymizeOptions.model_validate({"method": method, "threshold": threshold, "strength": strength,
                                                   "detector": detector})
    except ValidationError as exc:
        raise typer.BadParameter(plain_errors(exc, prefix="--")) from None
    runtime = Runtime(get_settings())
    out.mkdir(parents=True, exist_ok=True)
    videos = [p for p in photos if p.suffix.lower() in VIDEO_SUFFIXES]
    photos = [p for p in photos if p.suffix.lower() not in VIDEO_SUFFIXES]
    failed = sum(not _anonymize_video(runtime, clip, out, options) for clip in videos)
    if not photos:
        if failed:
            raise typer.Exit(1)
        return
    total_faces = 0
    with Progress(console=console) as bar:
        task = bar.add_task("anonymising", total=len(photos))
        for photo in photos:
            try:
                with Image.open(photo) as image:
                    upright = ImageOps.exif_transpose(image).convert("RGB")
            except OSError as exc:
                console.print(f"[red]{photo.name}: not an image ({exc})[/red]")
                bar.advance(task)
                continue
            covered, faces, _ = cover_faces(runtime, upright, options)
            fmt = "JPEG" if photo.suffix.lower() in (".jpg", ".jpeg") else "PNG"
            target = out / f"{photo.stem}_anonymized.{'jpg' if fmt == 'JPEG' else 'png'}"
            target.write_bytes(encode_image(covered, fmt))
            total_faces += len(faces)
            bar.update(task, advance=1, description=f"{photo.name}: {len(faces)} face(s)")
    console.print(f"{len(photos)} photo(s), {total_faces} face(s) covered → {out}/")


VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".webm", ".mkv"})


def _anonymize_video(runtime: Runtime, clip: Path, out: Path, options: AnonymizeOptions) -> bool:
    """One video, with a progress bar over its frames; False (and a message) when it is refused."""
    from boda.apps.vision import video
    from boda.apps.vision.service import video_limits

    vs = vision_settings(runtime.settings)
    try:
        if clip.stat().st_size > vs.video_max_mb * 1024 * 1024:
            raise PayloadTooLarge(f"larger than {vs.video_max_mb:g} MB", key="too_large")
        info = video.probe(clip, **video_limits(runtime.settings))
    except BodaError as exc:
        console.print(f"[red]{clip.name}: {exc.message}[/red]")
        return False
    family, _ = video.output_plan(info)
    target = out / video.output_name(clip.name, family)
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} frames"),
               TimeElapsedColumn())
    with Progress(*columns, console=console) as bar:
        task = bar.add_task(clip.name, total=info.frames)
        report = video.cover_video(clip, target, info, runtime.ai.face_detector(options.detector),
                                   method=options.method, strength=options.strength, threshold=options.threshold,
                                   hold_frames=vs.video_hold_frames, margin=vs.video_box_margin,
                                   progress=lambda done, total: bar.update(task, completed=done, total=total))
    rate = report.frames / report.seconds if report.seconds else 0.0
    console.print(f"{clip.name}: {report.frames} frames ({rate:.1f}/s), faces covered in {report.frames_with_faces}"
                  f"{', sound kept' if report.audio_copied else ''}"
                  f"{', sound left out (its codec cannot be read)' if info.audio_unreadable else ''} → {target}")
    return True
