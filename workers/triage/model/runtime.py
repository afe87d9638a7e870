"""Loading a shipped triage model (integrity-checked, no pickle) and running it on radiographs of any size."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from workers.triage.model.manifest import ModelError, ModelManifest, load_manifest
from workers.triage.model.net import SmallResNet, build_network
from workers.triage.model.preprocess import center_square, check_image, normalize, to_model_grid

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "models" / "pneumonia-v1"


def resolve_device(device: str) -> torch.device:
    """'gpu' (the settings' device class) means the first CUDA device."""
    name = "cuda" if device == "gpu" else device
    try:
        dev = torch.device(name)
    except RuntimeError as exc:
        raise ValueError(f"unknown device {device!r}") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available")
    return dev


class TriageModel:
    """An ensemble whose members map a normalized (N,1,h,w) batch to positive-label logits (N,)."""

    def __init__(
        self, manifest: ModelManifest, folder: Path, sha256: str, members: list[nn.Module], device: torch.device
    ) -> None:
        self.manifest = manifest
        self.folder = folder
        self.sha256 = sha256
        self.members = members
        self.device = device
        self.name = manifest.name
        self.version = manifest.version

    @property
    def input_size(self) -> tuple[int, int]:
        return self.manifest.input_size

    def provenance(self) -> dict[str, Any]:
        """What a result set records about the model that scored it."""
        m = self.manifest
        return {"name": m.name, "version": m.version, "sha256": self.sha256, "format": m.format, "members": m.members}

    def _member_probs(self, x: torch.Tensor) -> torch.Tensor:
        probs = torch.zeros(x.shape[0], device=self.device)
        for member in self.members:
            p = torch.sigmoid(member(x).reshape(-1))
            if self.manifest.tta_hflip:
                # Left-right mirroring is trained for, so averaging both views cancels orientation-specific noise.
                p = 0.5 * (p + torch.sigmoid(member(x.flip(-1)).reshape(-1)))
            probs += p
        return probs / len(self.members)

    def predict(self, images: Sequence[np.ndarray], batch_size: int = 256) -> np.ndarray:
        """Probability of the positive label per image (float32). Images: 2D, [0,1], MONOCHROME2, any size."""
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        out = np.empty(len(images), dtype=np.float32)
        norm = self.manifest.normalization
        with torch.inference_mode():
            for start in range(0, len(images), batch_size):
                grid = to_model_grid(images[start : start + batch_size], self.input_size, self.device, offset=start)
                probs = self._member_probs(normalize(grid, norm.mean, norm.std))
                out[start : start + len(grid)] = probs.float().cpu().numpy()
        return out

    def saliency(self, image: np.ndarray) -> np.ndarray:
        """Heatmap in [0,1] with the image's shape: where the evidence for the positive label lies."""
        return self.saliency_batch([image])[0]

    def saliency_batch(self, images: Sequence[np.ndarray], batch_size: int = 128) -> list[np.ndarray]:
        """Grad-CAM on the last feature map of each member, averaged, for a batch at once (one forward and one
        backward pass per member instead of one per image: samples are independent in eval mode, so the
        gradient of the summed logits gives each image its own). Members without a feature map (TorchScript)
        fall back to smoothed input gradients. Outside the centre crop the model never looked, so it stays 0."""
        arrays = [check_image(image, i) for i, image in enumerate(images)]
        out: list[np.ndarray] = []
        for start in range(0, len(arrays), batch_size):
            out.extend(self._saliency_chunk(arrays[start : start + batch_size], start))
        return out

    def _saliency_chunk(self, arrays: list[np.ndarray], offset: int) -> list[np.ndarray]:
        norm = self.manifest.normalization
        grid = to_model_grid(arrays, self.input_size, self.device, offset=offset)
        x = normalize(grid, norm.mean, norm.std).requires_grad_(True)
        maps = []
        with torch.enable_grad():
            for member in self.members:
                if isinstance(member, SmallResNet):
                    feats = member.features(x)
                    (grads,) = torch.autograd.grad(member.classify(feats).sum(), feats)
                    cam = F.relu((grads.mean(dim=(2, 3), keepdim=True) * feats).sum(dim=1, keepdim=True))
                else:
                    (grads,) = torch.autograd.grad(member(x).sum(), x)
                    cam = F.avg_pool2d(grads.abs(), 3, stride=1, padding=1)
                peak = cam.amax(dim=(1, 2, 3), keepdim=True)
                maps.append(torch.where(peak > 0, cam / peak.clamp(min=1e-12), cam))
        cams = torch.stack(maps).mean(dim=0).detach()
        heats = []
        for arr, cam in zip(arrays, cams, strict=True):
            h, w = arr.shape
            top, left, side = center_square(h, w)
            resized = F.interpolate(cam[None], size=(side, side), mode="bilinear", align_corners=False)[0, 0]
            heat = np.zeros((h, w), dtype=np.float32)
            heat[top : top + side, left : left + side] = resized.clamp(min=0).cpu().numpy()
            top_value = float(heat.max())
            heats.append(heat / top_value if top_value > 0 else heat)
        return heats


def _read_weights(folder: Path, manifest: ModelManifest) -> tuple[list[bytes], str]:
    """Read each weight file once and hash exactly the bytes that will be deserialized."""
    digest = hashlib.sha256()
    blobs = []
    for name in sorted(manifest.weights):
        path = folder / name
        try:
            blob = path.read_bytes()
        except FileNotFoundError:
            raise ModelError("MODEL_WEIGHTS_MISSING", f"{path} does not exist") from None
        digest.update(blob)
        blobs.append(blob)
    sha = digest.hexdigest()
    if sha != manifest.sha256:
        raise ModelError(
            "MODEL_WEIGHTS_SHA256_MISMATCH",
            f"{folder}: weights sha256 {sha} does not match the manifest's {manifest.sha256}; refusing to load",
        )
    return blobs, sha


def _safetensors_members(blobs: list[bytes], manifest: ModelManifest) -> list[nn.Module]:
    from safetensors.torch import load as load_safetensors

    assert manifest.architecture is not None  # guaranteed by the manifest validator
    tensors: dict[str, torch.Tensor] = {}
    for blob in blobs:
        tensors.update(load_safetensors(blob))
    members: list[nn.Module] = []
    for i in range(manifest.members):
        prefix = f"member{i}."
        state = {
            k[len(prefix) :]: v.float() if v.is_floating_point() else v
            for k, v in tensors.items()
            if k.startswith(prefix)
        }
        net = build_network(manifest.architecture.name, manifest.architecture.kwargs)
        try:
            net.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise ModelError("MODEL_WEIGHTS_INVALID", f"member {i} does not fit its architecture: {exc}") from exc
        members.append(net)
    extra = [k for k in tensors if not k.startswith(tuple(f"member{i}." for i in range(manifest.members)))]
    if extra:
        raise ModelError("MODEL_WEIGHTS_INVALID", f"weights hold tensors for no declared member: {extra[:5]}")
    return members


def _torchscript_members(blobs: list[bytes], device: torch.device) -> list[nn.Module]:
    # TorchScript archives are read by torch's own restricted loader (tensors and code, no arbitrary pickled
    # objects); one file per ensemble member. torch deprecates jit in favour of torch.export but still loads it;
    # the warning would repeat in every worker log without telling the operator anything actionable.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return [torch.jit.load(io.BytesIO(blob), map_location=device) for blob in blobs]


def load_model(path: Path | None = None, device: str = "cpu") -> TriageModel:
    """Load a model folder (manifest.json + weights); the shipped pneumonia-v1 model by default."""
    folder = Path(path) if path is not None else DEFAULT_MODEL_DIR
    manifest = load_manifest(folder)
    dev = resolve_device(device)
    if manifest.format == "onnx":
        if importlib.util.find_spec("onnxruntime") is None:
            raise ModelError("MODEL_FORMAT_UNAVAILABLE", "onnx models need onnxruntime, which is not installed")
        raise ModelError("MODEL_FORMAT_UNAVAILABLE", "onnx models are not supported by this runtime yet")
    blobs, sha = _read_weights(folder, manifest)
    if manifest.format == "safetensors":
        members = _safetensors_members(blobs, manifest)
    else:
        members = _torchscript_members(blobs, dev)
        if len(members) != manifest.members:
            raise ModelError(
                "MODEL_WEIGHTS_INVALID", f"{len(members)} TorchScript files for {manifest.members} members"
            )
    for member in members:
        member.to(dev).eval()
        for param in member.parameters():  # ScriptModules lack requires_grad_()
            param.requires_grad_(False)
    return TriageModel(manifest, folder, sha, members, dev)
