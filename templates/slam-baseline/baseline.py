"""A small visual odometry baseline you can read in one sitting and change.

RGB-D (``RgbdTracker``):
  1. ORB features (OpenCV) in each image.
  2. Match them to the 3D points of the last few keyframes (the "local map"): project the map
     with a constant-velocity guess of the pose and compare each feature only with the points
     that land near it (Hamming distance, Lowe's ratio test); brute force when that finds too
     few (start, fast turns).
  3. Camera pose from those 2D-3D matches: PnP inside RANSAC (outliers dropped), then
     Levenberg-Marquardt refinement on the inliers (the local refinement step).
  4. A new keyframe when the view has changed enough (few inliers, or moved/turned far): its
     features with valid depth are back-projected into world points and join the local map.

Mono (``MonoTracker``): the essential matrix between consecutive frames (5-point RANSAC) gives
rotation and the translation *direction*; the step length is unknown from one camera, so each
step gets length 1 and the whole path gets its scale from Sim(3) alignment with ground truth
(``--scale`` in evo). Expect a much larger error than RGB-D: that is the lesson.

Poses are 4x4 "world from camera" matrices in OpenCV camera axes (x right, y down, z forward);
the world is the first camera's frame.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np
from scipy.spatial import cKDTree


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise Hamming distance of two N x 32-byte ORB descriptor arrays (bits that differ)."""
    diff = np.bitwise_xor(a, b).view(np.uint64)  # 4 words of 64 bits per row
    return np.bitwise_count(diff).sum(axis=1, dtype=np.int32)


@dataclass
class Keyframe:
    pose: np.ndarray  # world from camera
    points: np.ndarray  # N x 3 world points of its features
    descriptors: np.ndarray  # N x 32 ORB descriptors, row i describes points[i]


def backproject(
    keypoints: np.ndarray, depth_m: np.ndarray, K: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Camera-frame 3D points of pixel positions with valid depth, and which ones were valid."""
    u = np.round(keypoints[:, 0]).astype(int).clip(0, depth_m.shape[1] - 1)
    v = np.round(keypoints[:, 1]).astype(int).clip(0, depth_m.shape[0] - 1)
    z = depth_m[v, u]
    valid = (z > 0.1) & (z < 8.0)  # a Kinect-like working range
    x = (keypoints[:, 0] - K[0, 2]) * z / K[0, 0]
    y = (keypoints[:, 1] - K[1, 2]) * z / K[1, 1]
    return np.column_stack([x, y, z])[valid], valid


def pose_from_rvec(rvec: np.ndarray, tvec: np.ndarray) -> np.ndarray:
    """OpenCV's (rvec, tvec) map world to camera; return its inverse, world from camera."""
    R, _ = cv2.Rodrigues(rvec)
    pose = np.eye(4)
    pose[:3, :3] = R.T
    pose[:3, 3] = -R.T @ tvec.ravel()
    return pose


def rvec_from_pose(pose: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    R = pose[:3, :3].T
    rvec, _ = cv2.Rodrigues(R)
    return rvec, (-R @ pose[:3, 3]).reshape(3, 1)


class RgbdTracker:
    def __init__(
        self,
        K: np.ndarray,
        n_features: int = 1000,
        local_keyframes: int = 3,
        min_inliers: int = 80,
        keyframe_distance_m: float = 0.25,
        keyframe_angle_deg: float = 12.0,
        search_radius_px: float = 8.0,
    ) -> None:
        self.K = K.astype(np.float64)
        self.orb = cv2.ORB_create(nfeatures=n_features)
        self.matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
        self.local_map: deque[Keyframe] = deque(maxlen=local_keyframes)
        self.min_inliers = min_inliers
        self.kf_distance = keyframe_distance_m
        self.kf_angle = np.radians(keyframe_angle_deg)
        self.search_radius = search_radius_px
        self.pose = np.eye(4)
        self.velocity = np.eye(4)  # last frame-to-frame motion
        self.keyframes = 0
        self.last_inliers = 0

    def _new_keyframe(
        self, keypoints: np.ndarray, descriptors: np.ndarray, depth_m: np.ndarray
    ) -> None:
        cam_points, valid = backproject(keypoints, depth_m, self.K)
        world = cam_points @ self.pose[:3, :3].T + self.pose[:3, 3]
        self.local_map.append(Keyframe(self.pose.copy(), world, descriptors[valid]))
        self.keyframes += 1

    def _match(self, descriptors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Brute force: every feature against every local-map point (used to start and to
        recover). Returns indices into this frame's features and into the local map's points."""
        map_desc = np.vstack([kf.descriptors for kf in self.local_map])
        pairs = self.matcher.knnMatch(descriptors, map_desc, k=2)
        good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < 0.8 * p[1].distance]
        return (
            np.array([m.queryIdx for m in good], dtype=int),
            np.array([m.trainIdx for m in good], dtype=int),
        )

    def _match_guided(
        self, keypoints: np.ndarray, descriptors: np.ndarray, predicted: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Project the local map with the predicted pose; compare each point only with the
        features within ``search_radius_px`` of where it lands. Much cheaper than brute force, and
        fewer wrong matches, as long as the prediction is close (it is, at video rate)."""
        points = np.vstack([kf.points for kf in self.local_map])
        map_desc = np.vstack([kf.descriptors for kf in self.local_map])
        rvec, tvec = rvec_from_pose(predicted)
        R, _ = cv2.Rodrigues(rvec)
        cam = points @ R.T + tvec.ravel()
        front = np.flatnonzero(cam[:, 2] > 0.1)
        uv = cam[front, :2] / cam[front, 2:] * [self.K[0, 0], self.K[1, 1]] + self.K[:2, 2]
        if len(front) < 6:
            return np.empty(0, int), np.empty(0, int)
        # Up to 4 features near each projected point (fixed-size arrays: no Python loops).
        dist_px, cand = cKDTree(keypoints).query(uv, k=4, distance_upper_bound=self.search_radius)
        valid = np.isfinite(dist_px)  # cand == len(keypoints) where fewer than 4 were near
        if not valid.any():
            return np.empty(0, int), np.empty(0, int)
        # Descriptor distances in the same (map point x 4 candidates) layout, 256 where none:
        # best and second best per row without sorting the pairs.
        dist = np.full(cand.shape, 256, dtype=np.int32)
        dist[valid] = hamming(descriptors[cand[valid]], map_desc[front.repeat(4)[valid.ravel()]])
        best_col = dist.argmin(axis=1)
        rows = np.arange(len(dist))
        best = dist[rows, best_col]
        dist[rows, best_col] = 256
        second = dist.min(axis=1)
        keep = (best < 64) & (best < 0.8 * second)
        qi, ti, di = cand[rows, best_col][keep], front[keep], best[keep]
        # One map point per feature: the closest in descriptor distance.
        order = np.lexsort((di, qi))
        qi, ti = qi[order], ti[order]
        unique = np.r_[True, qi[1:] != qi[:-1]]
        return qi[unique], ti[unique]

    def track(self, gray: np.ndarray, depth_m: np.ndarray) -> np.ndarray:
        """Pose of this frame (world from camera). Keeps the last pose when tracking fails."""
        kps, desc = self.orb.detectAndCompute(gray, None)
        if desc is None or len(kps) < 10:
            return self.pose.copy()
        keypoints = np.array([k.pt for k in kps], dtype=np.float64)
        if not self.local_map:
            self._new_keyframe(keypoints, desc, depth_m)
            return self.pose.copy()
        predicted = self.pose @ self.velocity  # constant-velocity guess
        frame_idx, map_idx = self._match_guided(keypoints, desc, predicted)
        if len(frame_idx) < self.min_inliers:
            frame_idx, map_idx = self._match(desc)
        if len(frame_idx) < 6:
            return self.pose.copy()
        points = np.vstack([kf.points for kf in self.local_map])[map_idx]
        pixels = keypoints[frame_idx]
        rvec, tvec = rvec_from_pose(predicted)
        ok, rvec, tvec, inliers = cv2.solvePnPRansac(
            points, pixels, self.K, None, rvec, tvec, useExtrinsicGuess=True,
            iterationsCount=100, reprojectionError=2.0, confidence=0.999,
            flags=cv2.SOLVEPNP_ITERATIVE,
        )  # fmt: skip
        if not ok or inliers is None or len(inliers) < 6:
            return self.pose.copy()
        inl = inliers.ravel()
        rvec, tvec = cv2.solvePnPRefineLM(points[inl], pixels[inl], self.K, None, rvec, tvec)
        pose = pose_from_rvec(rvec, tvec)
        self.velocity = np.linalg.inv(self.pose) @ pose
        self.pose = pose
        self.last_inliers = len(inl)
        last_kf = self.local_map[-1].pose
        moved = np.linalg.norm(self.pose[:3, 3] - last_kf[:3, 3])
        cos_turn = (np.trace(last_kf[:3, :3].T @ self.pose[:3, :3]) - 1) / 2
        turned = np.arccos(np.clip(cos_turn, -1.0, 1.0))
        if len(inl) < self.min_inliers or moved > self.kf_distance or turned > self.kf_angle:
            self._new_keyframe(keypoints, desc, depth_m)
        return self.pose.copy()


class MonoTracker:
    def __init__(self, K: np.ndarray, n_features: int = 1000, min_parallax_px: float = 2.0) -> None:
        self.K = K.astype(np.float64)
        self.orb = cv2.ORB_create(nfeatures=n_features)
        self.matcher = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True)
        self.min_parallax = min_parallax_px
        self.pose = np.eye(4)
        self.keyframes = 0
        self.last_inliers = 0
        self._ref: tuple[np.ndarray, np.ndarray] | None = None  # keypoints, descriptors

    def track(self, gray: np.ndarray, depth_m: np.ndarray | None = None) -> np.ndarray:
        kps, desc = self.orb.detectAndCompute(gray, None)
        if desc is None or len(kps) < 10:
            return self.pose.copy()
        keypoints = np.array([k.pt for k in kps], dtype=np.float64)
        if self._ref is None:
            self._ref = (keypoints, desc)
            self.keyframes = 1
            return self.pose.copy()
        matches = self.matcher.match(self._ref[1], desc)
        if len(matches) < 8:
            return self.pose.copy()
        p0 = self._ref[0][[m.queryIdx for m in matches]]
        p1 = keypoints[[m.trainIdx for m in matches]]
        if np.median(np.linalg.norm(p1 - p0, axis=1)) < self.min_parallax:
            return self.pose.copy()  # too little motion to see depth: wait for more
        E, mask = cv2.findEssentialMat(p0, p1, self.K, cv2.RANSAC, 0.999, 1.0)
        if E is None or E.shape != (3, 3):
            return self.pose.copy()
        n, R, t, _ = cv2.recoverPose(E, p0, p1, self.K, mask=mask)
        if n < 8:
            return self.pose.copy()
        step = np.eye(4)  # reference camera from current camera
        step[:3, :3] = R.T
        step[:3, 3] = -R.T @ t.ravel()
        self.pose = self.pose @ step
        self.last_inliers = int(n)
        self._ref = (keypoints, desc)
        self.keyframes += 1
        return self.pose.copy()
