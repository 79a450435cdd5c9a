"""Backup and restore of the control room's own database: one portable, versioned file.

The file format is described in :mod:`core.backup.archive`; what goes in and how it is restored
in :mod:`core.backup.database`; the ``backup`` / ``restore`` commands in
:mod:`core.backup.commands`.
"""

from core.backup.database import RestoreRefused, backup_database, restore_database
from core.backup.manifest import BackupError, Manifest

__all__ = ["BackupError", "Manifest", "RestoreRefused", "backup_database", "restore_database"]
