"""The research branch: ``winnow/<tag>``, worked on in its own git worktree.

The user's checkout is never touched: the loop checks the branch out in a worktree under
``WINNOW_HOME/worktrees/<tag>``. Kept commits advance the branch; every experiment's commit,
kept or not, stays reachable as ``refs/winnow/<tag>/<number>`` so the morning review can show it.
Commits are made by a fixed "Winnow" identity (they are the machine's, not the user's).
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

import git

from harness.errors import InputError
from harness.judge.integrity import (
    HARNESS_DIR,
    harness_files,
    harness_hash,
    part_of_judge,
    tree_hash,
)

EXPERIMENTS = "experiments"
WINNOW = git.Actor("Winnow", "winnow@localhost")


class BranchError(InputError):
    """The repository is not in a state a run can start from."""


@dataclass
class ResearchBranch:
    repo: git.Repo  # the user's repository
    tag: str
    worktree: git.Repo  # the worktree with the research branch checked out

    @property
    def name(self) -> str:
        return f"winnow/{self.tag}"

    @property
    def path(self) -> Path:
        return Path(self.worktree.working_tree_dir or ".")

    @property
    def head(self) -> str:
        return self.worktree.head.commit.hexsha

    def read(self, relative: str) -> str:
        return (self.path / relative).read_text()

    def experiment_files(self) -> dict[str, str]:
        """Every file under ``experiments/`` on the current commit: path -> text."""
        root = self.path / EXPERIMENTS
        return {
            p.relative_to(self.path).as_posix(): p.read_text()
            for p in sorted(root.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts
        }

    def experiments_hash(self, commit: str | None = None) -> str:
        """The git tree id of ``experiments/`` at a commit: equal contents, equal hash."""
        return self.worktree.git.rev_parse(f"{commit or self.head}:{EXPERIMENTS}")

    def commit(self, files: dict[str, str], message: str) -> str:
        """Write ``files`` (paths under experiments/) and commit them on the branch."""
        for relative, text in files.items():
            target = self.path / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        self.worktree.git.add("--all", "--", EXPERIMENTS)
        self.worktree.index.commit(message, author=WINNOW, committer=WINNOW)
        return self.head

    def amend(self, message: str) -> str:
        """Rewrite the message of the commit under test (it then carries its results)."""
        self.worktree.git.commit(
            "--amend", "--allow-empty", "--quiet", "-m", message, env=_identity()
        )
        return self.head

    def keep_ref(self, number: int, commit: str) -> None:
        """Keep an experiment's commit reachable whatever happens to the branch."""
        self.repo.git.update_ref(f"refs/winnow/{self.tag}/{number}", commit)

    def kept_ref(self, number: int) -> str | None:
        """The commit ``keep_ref`` kept for an experiment, or None when there is none yet."""
        found = self.repo.git.for_each_ref(
            "--format=%(objectname)", f"refs/winnow/{self.tag}/{number}"
        )
        return found or None

    def reset(self, commit: str) -> None:
        """Move the branch (and the worktree) back to ``commit``; untracked leftovers go."""
        self.worktree.git.reset("--hard", "--quiet", commit)
        self.worktree.git.clean("-fdq", "--", EXPERIMENTS)

    def harness_hash(self) -> str:
        """The hash of ``harness/`` as committed on the branch."""
        return harness_hash_at(self.worktree, self.head)


def _identity() -> dict[str, str]:
    return {
        "GIT_AUTHOR_NAME": WINNOW.name or "Winnow",
        "GIT_AUTHOR_EMAIL": WINNOW.email or "winnow@localhost",
        "GIT_COMMITTER_NAME": WINNOW.name or "Winnow",
        "GIT_COMMITTER_EMAIL": WINNOW.email or "winnow@localhost",
    }


def harness_hash_at(repo: git.Repo, commit: str) -> str:
    """The hash of ``harness/`` in a commit, by the same recipe as the running harness's
    (``harness.judge.integrity.harness_hash``); "none" when the commit has no such harness."""
    wanted = {p.relative_to(HARNESS_DIR).as_posix() for p in harness_files()}
    try:
        folder = repo.commit(commit).tree / "harness"
    except KeyError:
        return "none"
    files: dict[str, bytes] = {}
    for item in folder.traverse():
        if isinstance(item, git.Blob):
            name = Path(item.path).relative_to("harness").as_posix()
            if part_of_judge(name):
                files[name] = item.data_stream.read()
    return tree_hash(files) if wanted <= set(files) else "none"


def open_repository(start: Path) -> git.Repo:
    try:
        return git.Repo(start, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise BranchError(f"{start} is not inside a git repository") from None


def dirty_paths(repo: git.Repo, home: Path, steering: str) -> list[str]:
    """Tracked files with uncommitted changes, outside ``WINNOW_HOME`` (which may live inside
    the repo) and other than ``steering`` (program.md, which the user edits while runs go).
    Untracked files (a report, a log) are not the run's business."""
    root = Path(repo.working_tree_dir or ".").resolve()
    lines = repo.git.status("--porcelain", "--untracked-files=no").splitlines()
    paths = [line[3:].split(" -> ")[-1].strip('"') for line in lines]
    inside = home.resolve()
    return [p for p in paths if p != steering and not _within(root / p, inside)]


def _within(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder)
        return True
    except ValueError:
        return False


def check_tag(tag: str) -> None:
    if not tag or any(c in tag for c in " ~^:?*[\\") or ".." in tag:
        raise BranchError(f"tag {tag!r} is not usable in a git branch name")


def check_start(repo: git.Repo, tag: str, home: Path, steering: str) -> None:
    """What a new run needs, checked before anything is created: a commit to start from, the
    harness this process runs committed there, no tracked change outside ``steering``, and no
    branch ``winnow/<tag>`` that this ``WINNOW_HOME`` did not make."""
    name = f"winnow/{tag}"
    if not repo.head.is_valid():
        raise BranchError("the repository has no commits yet")
    committed = harness_hash_at(repo, "HEAD")
    if committed != harness_hash():
        raise BranchError(
            f"the running harness ({harness_hash()}) differs from harness/ committed at "
            f"HEAD ({committed}): results would not be comparable; commit the harness"
        )
    dirty = dirty_paths(repo, home, steering)
    if dirty:
        shown = ", ".join(dirty[:5]) + (" ..." if len(dirty) > 5 else "")
        raise BranchError(
            f"the working tree has uncommitted changes ({shown}); commit or stash them "
            f"first: a run starts from the current commit ({steering} may stay edited)"
        )
    if name in [h.name for h in repo.heads] and not _marker(home, tag).exists():
        where = _worktrees_of(repo, name)
        held = f", checked out in {', '.join(where)}" if where else ""
        raise BranchError(
            f"branch {name} exists{held} but {home} has no run tagged {tag!r}: it was started "
            f"with another WINNOW_HOME, or left by hand; use that WINNOW_HOME, another tag, or "
            f"delete it (git worktree remove --force <path>; git branch -D {name})"
        )


def create_branch(repo: git.Repo, tag: str, home: Path) -> ResearchBranch:
    """Create ``winnow/<tag>`` at HEAD and its worktree, for a run not yet in the ledger.

    A marker file is written first and removed by :func:`unmark_start` once the run is
    recorded: a start killed in between is recognised by it and undone by the next start
    (:func:`discard_unrecorded_start`), so the same command can always start again."""
    marker = _marker(home, tag)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(f"{repo.working_tree_dir}\n")
    name = f"winnow/{tag}"
    repo.create_head(name, repo.head.commit)
    path = worktree_path(home, tag)
    repo.git.worktree("prune")
    repo.git.worktree("add", "--quiet", str(path), name)
    return ResearchBranch(repo=repo, tag=tag, worktree=git.Repo(path))


def unmark_start(home: Path, tag: str) -> None:
    """The run is in the ledger: its branch is no longer an unrecorded start."""
    _marker(home, tag).unlink(missing_ok=True)


def discard_unrecorded_start(repo: git.Repo, tag: str, home: Path) -> bool:
    """Undo what a start of ``tag`` killed before its run was recorded left behind (its
    branch, worktree, refs and locks); False when there was no such start."""
    marker = _marker(home, tag)
    if not marker.exists():
        return False
    name = f"winnow/{tag}"
    path = worktree_path(home, tag)
    _clear_ref_locks(repo, tag)
    for held in [*_worktrees_of(repo, name), str(path.resolve())]:
        if held in _worktrees_of(repo, None):
            repo.git.worktree("remove", "--force", "--force", held)
    if path.exists():
        shutil.rmtree(path)
    repo.git.worktree("prune")
    if name in [h.name for h in repo.heads]:
        repo.git.branch("-D", name)
    for ref in repo.git.for_each_ref("--format=%(refname)", f"refs/winnow/{tag}").split():
        repo.git.update_ref("-d", ref)
    marker.unlink()
    return True


def reopen_branch(repo: git.Repo, tag: str, home: Path) -> ResearchBranch:
    """The branch of a recorded run, its worktree (re)made when missing and the locks a killed
    git left cleared (the caller holds the run: no other process writes this branch)."""
    name = f"winnow/{tag}"
    if name not in [h.name for h in repo.heads]:
        raise BranchError(f"the run {tag!r} is in the ledger but its branch {name} is gone")
    committed = harness_hash_at(repo, name)
    if committed != harness_hash():
        raise BranchError(
            f"the running harness ({harness_hash()}) differs from harness/ committed at "
            f"{name} ({committed}): results would not be comparable; commit the harness "
            "and start a new tag"
        )
    _clear_ref_locks(repo, tag)
    path = worktree_path(home, tag)
    if not (path / ".git").exists():
        for held in _worktrees_of(repo, name):
            repo.git.worktree("remove", "--force", "--force", held)
        if path.exists():
            shutil.rmtree(path)  # a worktree whose creation was killed
        path.parent.mkdir(parents=True, exist_ok=True)
        repo.git.worktree("prune")
        repo.git.worktree("add", "--quiet", str(path), name)
    worktree = git.Repo(path)
    for lock in ("index.lock", "HEAD.lock", "ORIG_HEAD.lock"):
        (Path(worktree.git_dir) / lock).unlink(missing_ok=True)
    if worktree.active_branch.name != name:
        raise BranchError(f"{path} is a worktree of {worktree.active_branch.name}, not {name}")
    return ResearchBranch(repo=repo, tag=tag, worktree=worktree)


def worktree_path(home: Path, tag: str) -> Path:
    return home / "worktrees" / _safe(tag)


def _marker(home: Path, tag: str) -> Path:
    return home / "worktrees" / f"{_safe(tag)}.starting"


def _worktrees_of(repo: git.Repo, name: str | None) -> list[str]:
    """The worktrees with branch ``name`` checked out (every worktree when None)."""
    found, path = [], ""
    for line in repo.git.worktree("list", "--porcelain").splitlines():
        if line.startswith("worktree "):
            path = line.removeprefix("worktree ")
            if name is None:
                found.append(path)
        elif name is not None and line == f"branch refs/heads/{name}":
            found.append(path)
    return found


def _clear_ref_locks(repo: git.Repo, tag: str) -> None:
    """Remove the lock files a killed git left on the run's refs."""
    common = Path(repo.git.rev_parse("--git-common-dir"))
    if not common.is_absolute():
        common = Path(repo.working_tree_dir or ".") / common
    (common / "refs" / "heads" / "winnow" / f"{tag}.lock").unlink(missing_ok=True)
    for lock in (common / "refs" / "winnow" / tag).glob("*.lock"):
        lock.unlink()


def _safe(tag: str) -> str:
    return tag.replace("/", "_") + "-" + hashlib.sha256(tag.encode()).hexdigest()[:6]
