"""ravdess-av pairing (both audio layouts, missing modalities), the OpenFace CSV reader, and mocap segment averaging."""

from __future__ import annotations

import numpy as np
import pytest

from emotune.data import load_dataset
from emotune.data.readers.mocap import read_mocap_stream, segment_average, utterance_mocap
from emotune.data.readers.openface import read_face_table, read_openface_frames
from emotune.exceptions import DatasetError

AU_HEADER = "clip_id,frame,path,AU01_r,AU04_r,AU01_c,AU04_c,audio_file"


def _wav(path, channels=1, sr=48000):
    sf = pytest.importorskip("soundfile")
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(sr // 10) / sr
    y = 0.1 * np.sin(2 * np.pi * 220 * t)
    sf.write(str(path), np.stack([y] * channels, axis=1) if channels > 1 else y, sr)


def test_ravdess_av_pairs_by_recording_id_in_the_dev_layout(shared_data):
    ds = load_dataset("ravdess-av", shared_data / "ravdess-av-dev")
    assert len(ds) == 720 and len(set(ds.groups)) == 12
    for s in ds.samples[::97]:
        assert s.audio_path.endswith(f"{s.id}.flac") and s.id.startswith("03-")
        assert s.extra["face_clip_id"][3:] == s.id[3:] and s.extra["face_clip_id"][:3] in ("01-", "02-")
        assert s.extra["face"].shape == (35,)


def test_ravdess_av_original_layout_stereo_wav_and_missing_modalities(tmp_path):
    _wav(tmp_path / "Actor_01" / "03-01-05-01-02-01-01.wav", channels=2)  # stereo, 48 kHz, has a face row
    _wav(tmp_path / "Actor_02" / "03-01-04-02-01-02-02.wav")  # audio only: no face row
    (tmp_path / "face_action_units.csv").write_text(
        AU_HEADER + "\n"
        "01-01-05-01-02-01-01,0,a/1.mp4,1.0,0.0,1,0,x\n"
        "01-01-05-01-02-01-01,1,a/1.mp4,3.0,2.0,1,1,x\n"  # per-frame rows of one clip are averaged
        "02-01-03-01-01-01-03,0,b/2.mp4,0.5,0.5,0,0,y\n"  # face only (video-only clip, no audio file)
    )
    ds = load_dataset("ravdess-av", tmp_path)
    by_id = {s.id: s for s in ds}
    assert sorted(by_id) == ["03-01-03-01-01-01-03", "03-01-04-02-01-02-02", "03-01-05-01-02-01-01"]
    angry = by_id["03-01-05-01-02-01-01"]
    np.testing.assert_allclose(angry.extra["face"], [2.0, 1.0, 1.0, 0.5])  # r columns, then c columns
    assert angry.label == "angry" and angry.group == "01" and angry.audio_path.endswith(".wav")
    assert by_id["03-01-04-02-01-02-02"].extra["face"] is None
    assert by_id["03-01-03-01-01-01-03"].audio_path is None and by_id["03-01-03-01-01-01-03"].label == "happy"
    from emotune.features.audio import load_audio

    assert load_audio(angry.audio_path, sr=16000).ndim == 1  # the stereo file is downmixed


def test_ravdess_av_without_face_data_is_a_clear_error(tmp_path):
    _wav(tmp_path / "audio" / "Actor_01" / "03-01-05-01-02-01-01.wav")
    with pytest.raises(DatasetError, match="face_action_units.csv"):
        load_dataset("ravdess-av", tmp_path)


def test_openface_frames_skip_untracked_frames_and_strip_blank_headers(tmp_path):
    f = tmp_path / "01-01-05-01-02-01-01.csv"
    f.write_text("frame, face_id, timestamp, confidence, success, pose_Rx, AU01_r, AU12_r, AU01_c, AU12_c\n"
                 "1, 0, 0.000, 0.98, 1, 0.1, 1.5, 0.0, 1, 0\n"
                 "2, 0, 0.033, 0.10, 0, 0.2, 9.9, 9.9, 1, 1\n"
                 "3, 0, 0.067, 0.97, 1, 0.3, 0.5, 2.0, 0, 1\n")
    x, cols = read_openface_frames(f)
    assert cols == ["AU01_r", "AU12_r", "AU01_c", "AU12_c"]
    np.testing.assert_allclose(x, [[1.5, 0.0, 1, 0], [0.5, 2.0, 0, 1]])
    x, cols = read_openface_frames(f, groups=("au", "pose"))
    assert cols[-1] == "pose_Rx" and x.shape == (2, 5)
    f.write_text("frame, success, AU01_r\n1, 1, abc\n")
    with pytest.raises(DatasetError, match="line 2, field 'AU01_r'"):
        read_openface_frames(f)


def test_face_table_ignores_extra_columns(tmp_path):
    f = tmp_path / "au.csv"
    f.write_text(AU_HEADER + "\nclip-a,7,p.mp4,1,2,0,1,z\n")
    table, cols = read_face_table(f)
    assert cols == ["AU01_r", "AU04_r", "AU01_c", "AU04_c"] and list(table) == ["clip-a"]
    np.testing.assert_allclose(table["clip-a"], [1, 2, 0, 1])


def _stream(path, times, values, names):
    lines = ["Frame# Time " + " ".join(names), "# # " + " ".join("mm" for _ in names)]
    lines += [f"{i + 1} {t:.4f} " + " ".join("NaN" if np.isnan(v) else f"{v:.3f}" for v in row)
              for i, (t, row) in enumerate(zip(times, values))]
    path.write_text("\n".join(lines) + "\n")


def test_mocap_200_segment_averaging_on_a_hand_made_stream(tmp_path):
    # 120 fps for 10 s; the value of column A is the frame's time, B is constant 2 with a NaN
    times = np.arange(1200) / 120.0
    values = np.stack([times, np.full(1200, 2.0)], axis=1)
    values[500, 1] = np.nan
    _stream(tmp_path / "face.txt", times, values, ["A", "B"])
    s = read_mocap_stream(tmp_path / "face.txt")
    assert s.columns == ["A", "B"] and s.values.shape == (1200, 2)
    seg = segment_average(s.times, s.values, 2.0, 6.0)  # 4 s -> 480 frames -> 2.4 frames per segment
    assert seg.shape == (200, 2)
    edges = 2.0 + np.arange(201) * 0.02
    for j in (0, 57, 199):  # each segment's mean is the mean time of the frames inside it
        inside = times[(times >= edges[j]) & (times < edges[j + 1])]
        assert seg[j, 0] == pytest.approx(inside.mean(), abs=1e-4)
    np.testing.assert_allclose(seg[:, 1], 2.0)  # the NaN was filled, not propagated
    assert np.all(np.diff(seg[:, 0]) > 0)
    # a sparse stream (fewer frames than segments): empty segments take the nearest filled one
    head_t = np.arange(0, 4, 0.1)
    _stream(tmp_path / "head.txt", head_t, head_t[:, None] * [1.0, -1.0, 0.5], ["pitch", "roll", "yaw"])
    both = utterance_mocap([s, read_mocap_stream(tmp_path / "head.txt")], 1.0, 3.0)
    assert both.shape == (200, 5) and np.isfinite(both).all()
    with pytest.raises(DatasetError, match="head.txt.*no motion-capture frame"):
        utterance_mocap([s, read_mocap_stream(tmp_path / "head.txt")], 5.0, 6.0)
    (tmp_path / "bad.txt").write_text("x y z\n1 2 3\n")
    with pytest.raises(DatasetError, match="bad.txt, line 1"):
        read_mocap_stream(tmp_path / "bad.txt")


def test_manifest_lists_every_missing_modality_file_and_keeps_the_other_modalities(tmp_path):
    _wav(tmp_path / "a1.wav", sr=16000)
    _wav(tmp_path / "a2.wav", sr=16000)
    np.save(tmp_path / "f1.npy", np.arange(6, dtype=np.float32).reshape(2, 3))  # frames, averaged
    (tmp_path / "manifest.csv").write_text(
        "id,label,speaker,text,audio,face,video\n"
        "u1,happy,s1,hello,a1.wav,f1.npy,\n"
        "u2,sad,s2,,a2.wav,missing_face.npy,\n"
        "u3,sad,s2,,gone.wav,,no_video_here\n"
        "u4,happy,s1,,,,\n"
    )
    from emotune.data.readers.manifest import check_manifest

    _, problems = check_manifest(tmp_path / "manifest.csv")
    assert [(p.line, p.field) for p in problems] == [(3, "face"), (4, "audio"), (4, "video")]
    with pytest.raises(DatasetError, match="3 bad rows"):
        load_dataset("manifest", tmp_path)
    ds = load_dataset("manifest", tmp_path, on_bad_rows="skip")
    assert ds.ids == ["u1", "u2"]  # u3 lost its only modalities, u4 never had one
    np.testing.assert_allclose(ds[0].extra["face"], [1.5, 2.5, 3.5])
    assert ds[1].extra["face"] is None and ds[1].audio_path.endswith("a2.wav")
    assert {(b.line, b.field) for b in ds.skipped} >= {(3, "face"), (4, "audio"), (5, "(modalities)")}


def test_crema_d_video_frames_pair_with_their_audio_by_stem(shared_data):
    from emotune.data.readers.av_pairs import pair_av

    frames = sorted((shared_data / "crema-d-video-sample" / "frames").iterdir())
    audio = sorted((shared_data / "crema-d-dev" / "audio").glob("1001_DFA_*.flac"))
    pairs = pair_av(frames, audio, "crema-d")
    both = [(k, v, a) for k, v, a in pairs if v is not None and a is not None]
    assert len(both) == 6 and all(v.name == a.stem == k for k, v, a in both)


def test_ravdess_video_and_audio_pair_by_recording_id(tmp_path):
    from emotune.data.readers.av_pairs import pair_av

    videos = [tmp_path / "01-01-05-01-02-01-01.mp4", tmp_path / "02-01-05-01-02-01-01.mp4",
              tmp_path / "02-01-03-01-01-01-02.mp4"]
    audios = [tmp_path / "Actor_01" / "03-01-05-01-02-01-01.wav", tmp_path / "audio" / "03-01-04-01-01-01-03.flac"]
    pairs = {k: (v and v.name, a and a.name) for k, v, a in pair_av(videos, audios, "ravdess")}
    assert pairs == {"01-05-01-02-01-01": ("01-01-05-01-02-01-01.mp4", "03-01-05-01-02-01-01.wav"),
                     "01-03-01-01-01-02": ("02-01-03-01-01-01-02.mp4", None),
                     "01-04-01-01-01-03": (None, "03-01-04-01-01-01-03.flac")}
