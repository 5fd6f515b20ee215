"""Disk images, devices, volumes and file systems (live and deleted) through dfVFS and The Sleuth Kit."""

from safenet.evidence.image.backend import CredentialError, ImageEvidence

__all__ = ["CredentialError", "ImageEvidence"]
